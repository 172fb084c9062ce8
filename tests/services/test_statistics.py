"""Statistics over a period: seal uses grouped five ways (a multi-party application counting once per seal
applied), the period's edges, approval lead times (median and p90 on known waits) and who may read them."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.services import statistics
from app.services.statistics import Period
from tests.services.usage_data import build_uses, decide

HALF = Period(date(2026, 1, 1), date(2026, 6, 30))


def counts(rows: tuple[statistics.UsageCount, ...]) -> dict[object, int]:
    return {row.name: row.count for row in rows}


def test_uses_grouped_by_seal_department_month_type_and_process(org):
    built = build_uses(org)
    report = statistics.usage_report(HALF, org.auditor)
    # a: once though sealed twice with the contract seal; b: once per seal its parties applied; c: once.
    assert report.total == 4
    assert counts(report.by_seal) == {"Contract Seal": 2, "公章 Company Seal": 2}
    assert {row.key for row in report.by_seal} == {org.contract_seal.id, built.company_seal.id}
    assert counts(report.by_department) == {"Sales": 3, "Office": 1}
    assert [(m.label, m.count) for m in report.by_month] == [
        ("2026-01", 0), ("2026-02", 0), ("2026-03", 2), ("2026-04", 2), ("2026-05", 0), ("2026-06", 0)]
    assert counts(report.by_document_type) == {"contract": 1, "agreement": 2, "letter": 1}
    assert counts(report.by_process) == {"seal_application": 3, "leader_signature": 1}
    assert report.by_process[0].key == "seal_application"  # most used first


def test_a_requester_in_no_department_is_counted_under_none(org):
    build_uses(org)
    org.employee.department = None
    db.session.commit()
    by_department = statistics.usage_report(HALF, org.seal_admin).by_department
    assert [(row.key, row.count) for row in by_department] == [(None, 3), (by_department[1].key, 1)]


def test_the_period_holds_its_first_and_last_day_and_nothing_outside(org):
    build_uses(org)
    assert statistics.usage_report(Period(date(2025, 12, 31), date(2025, 12, 31)), org.auditor).total == 1
    assert statistics.usage_report(Period(date(2026, 1, 1), date(2026, 3, 10)), org.auditor).total == 1
    # b's contract seal went on 12 March: its use belongs there, not to 1 April when the company seal did.
    april = statistics.usage_report(Period(date(2026, 4, 1), date(2026, 4, 30)), org.auditor)
    assert counts(april.by_seal) == {"公章 Company Seal": 2}
    assert statistics.usage_report(Period(date(2027, 1, 1), date(2027, 1, 31)), org.auditor).total == 0


def test_period_of_reads_dates_and_refuses_nonsense():
    today = date(2026, 5, 17)
    assert statistics.period_of(None, None, today) == Period(date(2025, 6, 1), today)
    assert statistics.period_of("2026-01-01", "", today) == Period(date(2026, 1, 1), today)
    assert statistics.period_of(" 2024-02-29 ", "2024-03-01", today) == Period(date(2024, 2, 29), date(2024, 3, 1))
    assert len(statistics.period_of(None, None, today).months) == 12
    for start, end, problem in (("2026-13-01", "", "not a date"), ("yesterday", "", "not a date"),
                                ("2026-05-01", "2026-04-30", "ends before"), ("2015-01-01", "2026-01-01", "at most"),
                                ("0001-01-01", "", "out of range"), ("", "9999-12-31", "out of range")):
        with pytest.raises(InvalidInput, match=problem):
            statistics.period_of(start, end, today)


def test_percentile_interpolates_between_ranks():
    hours = [timedelta(hours=h) for h in (1, 2, 3, 10)]
    assert statistics.percentile(hours, 0.5) == timedelta(hours=2.5)
    assert statistics.percentile(hours, 0.9) == timedelta(hours=7.9)
    assert statistics.percentile(hours[:1], 0.9) == timedelta(hours=1)


def test_lead_times_per_step_on_known_waits(org):
    built = build_uses(org)
    a, b, c = (built.applications[k] for k in "abc")
    start = datetime(2026, 3, 1, 8)
    for filed, hours in ((a, 1), (b, 2), (c, 3), (a, 10)):
        decide(filed, "head_approval", "Department head approval", start, start + timedelta(hours=hours), org.head)
    decide(b, "legal", "Legal review", start, start + timedelta(minutes=30), org.other_approver, decision="reject")
    # Not counted: still waiting; decided outside the period; a deployment's review (no application).
    decide(a, "legal", "Legal review", start, None, org.other_approver)
    decide(a, "legal", "Legal review", datetime(2025, 1, 1), datetime(2025, 1, 9), org.other_approver)
    review = db.session.execute(select(ProcessDefinition.id).where(
        ProcessDefinition.process_id == "deployment_approval")).scalar_one()
    deployment = ProcessInstance(definition_id=review, state={})
    db.session.add(deployment)
    db.session.flush()
    decide(None, "legal", "Legal review", start, start + timedelta(days=30), org.seal_admin, instance_id=deployment.id)
    db.session.commit()

    steps = statistics.lead_times(HALF, org.auditor)
    # Both processes' head_approval steps are their own rows (c runs leader_signature).
    seen = {(s.process_id, s.element_id): s for s in steps}
    head = seen[("seal_application", "head_approval")]
    assert (head.step_name, head.count, head.median, head.p90, head.longest) == (
        "Department head approval", 3, timedelta(hours=2), timedelta(hours=8.4), timedelta(hours=10))
    legal = seen[("seal_application", "legal")]
    assert (legal.count, legal.median, legal.p90) == (1, timedelta(minutes=30), timedelta(minutes=30))
    assert seen[("leader_signature", "head_approval")].count == 1
    assert len(steps) == 3 and steps[0] == head  # the longest-waiting step first


def test_only_auditors_and_seal_administrators_read_them(org):
    for user in (org.employee, org.head, org.leader):
        assert not statistics.may_view(user)
        with pytest.raises(PermissionDenied):
            statistics.usage_report(HALF, user)
        with pytest.raises(PermissionDenied):
            statistics.lead_times(HALF, user)
    assert statistics.may_view(org.auditor) and statistics.may_view(org.seal_admin)

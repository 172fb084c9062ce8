"""The anomaly rules on built data: applications filed and sealed at chosen times, with chosen amounts, counterparties
and documents (written straight into the database; see tests/services/usage_data.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import ApplicationStatus, DocumentKind, SealApplication
from app.services.anomalies import AnomalyKind, AnomalyRules, find_anomalies, rules_from_settings
from tests.conftest import Org
from tests.services.usage_data import application, seal_at

RULES = AnomalyRules(ZoneInfo("Asia/Shanghai"), frozenset(range(1, 6)), (time(9), time(18)), Decimal(1_000_000), 30,
                     3, 60)
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))


def _filed(org: Org, at: datetime, amount: int | None = None, counterparty: str = "", sealed: datetime | None = None,
           status: ApplicationStatus = ApplicationStatus.PENDING, requester=None) -> SealApplication:
    filed = application(requester or org.employee, org.contract_seal, title=f"Doc {at:%d %H:%M}")
    filed.created_at, filed.counterparty, filed.status = at, counterparty, status
    filed.amount = None if amount is None else Decimal(amount)
    if sealed is not None:
        seal_at(filed, org.contract_seal, sealed)
        filed.status = ApplicationStatus.SEALED
    db.session.flush()
    return filed


def _kinds(org: Org) -> dict[AnomalyKind, list]:
    found: dict[AnomalyKind, list] = {}
    for anomaly in find_anomalies(*PERIOD, org.auditor, RULES):
        found.setdefault(anomaly.kind, []).append(anomaly)
    return found


def test_sealing_outside_working_hours_in_the_organisations_time_zone(app: Flask, org: Org):
    # 2026-11-02 is a Monday. 01:30 UTC is 09:30 in Shanghai: inside; 11:00 UTC is 19:00: outside.
    inside = _filed(org, datetime(2026, 11, 2, 1), sealed=datetime(2026, 11, 2, 1, 30))
    evening = _filed(org, datetime(2026, 11, 2, 2), sealed=datetime(2026, 11, 2, 11, 0))
    saturday = _filed(org, datetime(2026, 11, 6, 2), sealed=datetime(2026, 11, 7, 3, 0))  # 11:00 on a Saturday
    flags = _kinds(org)[AnomalyKind.OUTSIDE_HOURS]
    assert {f.evidence[0].application_id for f in flags} == {evening.id, saturday.id}
    assert inside.id not in {f.evidence[0].application_id for f in flags}
    assert any("19:00" in f.subject and "Asia/Shanghai" in f.subject for f in flags)


def test_amounts_split_under_the_threshold_by_one_requester_or_for_one_counterparty(app: Flask, org: Org):
    a = _filed(org, datetime(2026, 11, 3, 2), 600_000, "Acme")
    b = _filed(org, datetime(2026, 11, 10, 2), 500_000, "acme ")  # the same counterparty, written otherwise
    _filed(org, datetime(2026, 11, 11, 2), 2_000_000, "Acme")  # above the threshold: filed whole, not split
    c = _filed(org, datetime(2026, 11, 12, 2), 300_000, "Globex", requester=org.head)
    d = _filed(org, datetime(2026, 11, 28, 2), 800_000, "Initech", requester=org.head)
    _filed(org, datetime(2026, 11, 20, 2), 900_000, "Umbrella", status=ApplicationStatus.REJECTED,
           requester=org.other_approver)  # refused: nothing came of it
    _filed(org, datetime(2026, 11, 21, 2), 900_000, "Umbrella", requester=org.other_approver)
    flags = _kinds(org)[AnomalyKind.SPLIT]
    found = {(f.subject, tuple(u.application_id for u in f.evidence), f.total) for f in flags}
    assert found == {("Emma", (a.id, b.id), Decimal(1_100_000)), ("Acme", (a.id, b.id), Decimal(1_100_000)),
                     ("Harry", (c.id, d.id), Decimal(1_100_000))}


def test_amounts_further_apart_than_the_window_are_not_a_split(app: Flask, org: Org):
    _filed(org, datetime(2026, 10, 1, 2), 600_000, "Acme")
    _filed(org, datetime(2026, 11, 15, 2), 600_000, "Acme")
    assert AnomalyKind.SPLIT not in _kinds(org)


def test_the_same_document_sealed_twice(app: Flask, org: Org):
    first = _filed(org, datetime(2026, 11, 3, 2), sealed=datetime(2026, 11, 3, 3))
    second = _filed(org, datetime(2026, 11, 9, 2), sealed=datetime(2026, 11, 9, 3))
    _filed(org, datetime(2026, 11, 10, 2), sealed=datetime(2026, 11, 10, 3))
    first_doc, second_doc = first.document(DocumentKind.ORIGINAL), second.document(DocumentKind.ORIGINAL)
    assert first_doc is not None and second_doc is not None
    second_doc.sha256 = first_doc.sha256
    db.session.flush()
    [flag] = _kinds(org)[AnomalyKind.SAME_DOCUMENT]
    assert flag.subject == first_doc.sha256 and {u.application_id for u in flag.evidence} == {first.id, second.id}


def test_a_burst_of_uses_of_one_seal(app: Flask, org: Org):
    burst = [_filed(org, datetime(2026, 11, 4, 1), sealed=datetime(2026, 11, 4, 2, minute)) for minute in (0, 20, 50)]
    _filed(org, datetime(2026, 11, 4, 1), sealed=datetime(2026, 11, 4, 5, 0))  # hours later: not part of it
    _filed(org, datetime(2026, 11, 5, 1), sealed=datetime(2026, 11, 5, 2, 0))
    _filed(org, datetime(2026, 11, 5, 1), sealed=datetime(2026, 11, 5, 3, 1))  # 61 minutes: no burst of 3
    [flag] = _kinds(org)[AnomalyKind.BURST]
    assert flag.subject == "Contract Seal" and [u.application_id for u in flag.evidence] == [a.id for a in burst]


def test_only_the_logs_readers_see_anomalies_and_bad_settings_are_named(app: Flask, org: Org):
    with pytest.raises(PermissionDenied):
        find_anomalies(*PERIOD, org.employee, RULES)
    with pytest.raises(InvalidInput, match="ends before"):
        find_anomalies(PERIOD[1], PERIOD[0], org.auditor, RULES)
    assert rules_from_settings().working_days == frozenset(range(1, 6))
    for name, value, message in (("WORKING_HOURS", "18:00-09:00", "ends before"), ("WORKING_DAYS", "1-8", "weekday"),
                                 ("TIMEZONE", "Mars/Olympus", "not a time zone")):
        app.config[name] = value
        with pytest.raises(InvalidInput, match=message):
            rules_from_settings()
        app.config[name] = {"WORKING_HOURS": "09:00-18:00", "WORKING_DAYS": "1-5", "TIMEZONE": "Asia/Shanghai"}[name]

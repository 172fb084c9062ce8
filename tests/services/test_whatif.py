"""What-if and back-testing on the real organisation: the path and the people under the deployed policy and a draft,
a head's own filing, a supposed department, a substitute, a leader's authorization, bad input refused, and past
applications judged by a draft; the database is the same afterwards."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import RoleName, SealApplication, SealKind
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec
from app.services import accounts, applications, authorizations, decision_tables, flows, seals, substitutes, whatif
from app.services.applications import ApplicationSpec
from app.services.authorizations import GrantSpec
from app.services.whatif import WhatIfSpec, draft_of
from app.workflow import InvalidDefinition
from tests.conftest import DATA, contract_pdf
from tests.workflow.test_simulation import row_counts

ACTOR = Actor.system("test")
SHIPPED = (decision_tables.SHIPPED_DIR / "required_approvals.dmn").read_text()
# The shipped policy with a leader from 10,000 instead of 100,000 (the 1,000,000 row reads "1000000<").
LOWER_LEADER = SHIPPED.replace("&gt;= 100000<", "&gt;= 10000<").encode()
NOBODY_FOR_LETTERS = SHIPPED.replace("<inputEntry id=\"department_head_type\"><text>-</text>",
                                     "<inputEntry id=\"department_head_type\"><text>? != \"letter\"</text>").encode()


def _spec(org, amount: str | None = "50000", **changes) -> WhatIfSpec:
    fields = {"seal_id": org.contract_seal.id, "document_type": "contract",
              "amount": None if amount is None else Decimal(amount), "requester_id": org.employee.id, **changes}
    return WhatIfSpec(**fields)


def _path(result) -> list[tuple[str, str]]:
    return [(s.step.kind, s.step.element_id) for s in result.steps]


def _who(step) -> list[str]:
    return [p.user.username for p in step.people] or [u.username for u in step.role_holders]


def test_below_every_threshold_the_department_head_alone_then_the_seal(app, org):
    db.session.commit()
    before = row_counts()
    result = whatif.simulate("seal_application", 1, _spec(org, "50000"), None)
    assert [level["approver"] for level in result.levels] == ["department_head"]
    assert _path(result) == [("user_task", "policy_approval"), ("service_task", "stamp_and_sign"), ("end", "sealed")]
    head = result.steps[0]
    assert head.number == 1 and _who(head) == ["harry"] and head.step.level["label"] == "Department head"
    assert not head.warning and not result.notes and not result.draft
    db.session.commit()
    assert row_counts() == before


def test_above_the_thresholds_a_leader_then_a_seal_administrator_in_policy_order(app, org):
    result = whatif.simulate("seal_application", 1, _spec(org, "2000000"), None)
    assert [s.step.level["approver"] for s in result.steps if s.step.level] == [
        "department_head", "role:leader", "role:seal_admin"]
    head, leader, admin = result.steps[:3]
    assert _who(head) == ["harry"] and leader.roles == (RoleName.LEADER,) and _who(leader) == ["leo"]
    assert admin.roles == (RoleName.SEAL_ADMIN,) and _who(admin) == ["sam"]
    assert leader.step.level["label"] == "Leader: contract of 100,000 or more"
    assert result.steps[-1].step.element_id == "sealed"


def test_a_head_filing_goes_to_the_head_above_with_the_reason(app, org):
    office = accounts.get_or_create_department("Office")
    office.head, org.department.parent = org.leader, office
    db.session.commit()
    result = whatif.simulate("seal_application", 1, _spec(org, requester_id=org.head.id), None)
    first = result.steps[0]
    assert _who(first) == ["leo"] and first.note == "Harry heads Sales: the head of Office approves instead"


def test_a_supposed_department_decides_the_head_and_is_said(app, org):
    office = accounts.get_or_create_department("Office")
    office.head = org.leader
    db.session.commit()
    result = whatif.simulate("seal_application", 1, _spec(org, department_id=office.id), None)
    assert result.department == office and ("department_supposed", "") in result.notes
    assert _who(result.steps[0]) == ["leo"]


def test_a_substitute_standing_in_now_is_named_with_the_person(app, org):
    now = utcnow()
    substitutes.name_substitute(org.head, org.other_approver.id, now - timedelta(hours=1), now + timedelta(days=3),
                                "holiday", ACTOR)
    db.session.commit()
    head = whatif.simulate("seal_application", 1, _spec(org), None).steps[0]
    [person] = head.people
    assert person.user == org.head and [s.substitute.username for s in person.substitutions] == ["olga"]


def test_a_draft_policy_changes_the_levels_and_the_deployed_one_stays(app, org):
    drafted = whatif.simulate("seal_application", 1, _spec(org, "50000"), draft_of(LOWER_LEADER))
    assert drafted.draft and [level["approver"] for level in drafted.levels] == ["department_head", "role:leader"]
    assert [s.step.kind for s in drafted.steps].count("user_task") == 2
    deployed = whatif.simulate("seal_application", 1, _spec(org, "50000"), None)
    assert [level["approver"] for level in deployed.levels] == ["department_head"]


def test_a_draft_that_requires_nobody_shows_the_refusal_and_no_path(app, org):
    result = whatif.simulate("seal_application", 1, _spec(org, None, document_type="letter"),
                             draft_of(NOBODY_FOR_LETTERS))
    assert result.steps == [] and "requires no approval" in result.refusal


def test_a_decision_chosen_at_a_step_takes_its_path(app, org):
    result = whatif.simulate("seal_application", 1, _spec(org, "500000", decisions=((2, "reject"),)), None)
    assert _path(result)[-1] == ("end", "rejected") and result.steps[1].step.decision == "reject"


def test_a_leaders_authorization_that_covers_it_spares_his_step(app, org):
    seal = seals.create_seal("Leo's Signature", SealKind.PERSONAL, SealImageSpec("LEO", shape="oval"), ACTOR,
                             org.department)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=org.leader.id, department_ids=(org.department.id,)), ACTOR)
    db.session.commit()
    spec = _spec(org, "5000", seal_id=seal.id)
    asked = whatif.simulate("leader_signature", 1, spec, None)
    assert ("user_task", "leader_authorization") in _path(asked) and _who(asked.steps[-3]) == ["leo"]
    now = utcnow()
    granted = authorizations.grant(GrantSpec(seal.id, now - timedelta(minutes=1), now + timedelta(days=9), 3),
                                   org.leader, ACTOR)
    db.session.commit()
    covered = whatif.simulate("leader_signature", 1, spec, None)
    find = next(s for s in covered.steps if s.step.element_id == "find_authorization")
    assert find.step.result == {"authorization_id": granted.id}
    assert ("user_task", "leader_authorization") not in _path(covered)
    assert _path(covered)[-2:] == [("service_task", "sign_under_authorization"), ("end", "sealed")]
    # Filed through the standard process, a person's signature would be refused: the what-if says so.
    assert ("person_signature", "") in whatif.simulate("seal_application", 1, spec, None).notes


def test_a_step_only_the_requester_could_take_is_flagged(app, org):
    result = whatif.simulate("seal_application", 1, _spec(org, requester_id=org.leader.id, department_id=None),
                             None)
    # Leo has no department: the leaders approve as department head, and Leo is the only leader.
    assert result.steps[0].roles == (RoleName.LEADER,) and result.steps[0].warning == "nobody"
    assert ("not_employee", "") in result.notes


def test_a_step_that_goes_to_the_requester_alone_is_flagged(app, org):
    flows.deploy_file(DATA / "requester_decides.bpmn", ACTOR)
    steps = {s.step.element_id: s for s in whatif.simulate("requester_decides", 1, _spec(org), None).steps}
    assert steps["own_step"].warning == "" and _who(steps["own_step"]) == ["emma"]  # the requester's own step
    assert steps["requester_approves"].warning == steps["camunda_requester"].warning == "requester_alone"
    assert steps["among_candidates"].warning == "" and _who(steps["among_candidates"]) == ["harry", "emma"]
    assert "emma" not in _who(steps["any_employee"]) and "harry" in _who(steps["any_employee"])


@pytest.mark.parametrize("changes, error", [
    ({"amount": Decimal("-1")}, InvalidInput),
    ({"document_type": "poem"}, InvalidInput),
    ({"requester_id": 9999}, InvalidInput),
    ({"seal_id": 9999}, NotFound),
    ({"department_id": 9999}, NotFound),
])
def test_bad_input_is_refused_and_changes_nothing(app, org, changes, error):
    db.session.commit()
    before = row_counts()
    with pytest.raises(error):
        whatif.simulate("seal_application", 1, _spec(org, **changes), None)
    with pytest.raises(NotFound):
        whatif.simulate("seal_application", 99, _spec(org), None)
    db.session.rollback()
    assert row_counts() == before


@pytest.mark.parametrize("draft, says", [
    (b"not xml at all", "not well-formed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>', "DOCTYPE"),
    (SHIPPED.replace('"Department head"', "__import__('os').system('id')").encode(), "refused"),
    ((flows.SHIPPED_DIR / "seal_application.bpmn").read_bytes(), "not a DMN"),
])
def test_a_broken_or_hostile_draft_is_refused_with_its_problems(app, org, draft, says):
    with pytest.raises(InvalidDefinition) as refused:
        whatif.simulate("seal_application", 1, _spec(org), draft_of(draft))
    assert says in refused.value.message
    with pytest.raises(InvalidDefinition):
        whatif.backtest(draft_of(draft), 12, utcnow())


def _file(org, amount: str | None, document_type: str = "contract", filed_at: datetime | None = None) -> int:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type=document_type, filename="c.pdf",
                           content=contract_pdf(), reason="supply", amount=None if amount is None else Decimal(amount))
    application = applications.submit(spec, org.employee, ACTOR).application
    if filed_at is not None:
        db.session.execute(update(SealApplication).where(SealApplication.id == application.id)
                           .values(created_at=filed_at))
    db.session.commit()
    return application.id


def test_a_backtest_lists_the_applications_a_draft_routes_differently(app, org):
    now = utcnow()
    small = _file(org, "50000")
    _file(org, "500000")
    letter = _file(org, None, "letter")
    old = _file(org, "20000", filed_at=now - timedelta(days=400))
    before = row_counts()
    at = utcnow() + timedelta(seconds=1)  # after the filing, however long a loaded machine took for it
    report = whatif.backtest(draft_of(LOWER_LEADER), 12, at)
    assert (report.total, report.rerouted, report.refused, report.unchanged) == (3, 1, 0, 2)
    [row] = report.changed
    assert row.application.id == small and [level["approver"] for level in row.before] == ["department_head"]
    assert [level["approver"] for level in row.after] == ["department_head", "role:leader"]
    wider = whatif.backtest(draft_of(LOWER_LEADER), 24, at)
    assert wider.total == 4 and [r.application.id for r in wider.changed] == [old, small]  # oldest first
    refusing = whatif.backtest(draft_of(NOBODY_FOR_LETTERS), 12, at)
    [refused] = refusing.changed
    assert refused.application.id == letter and refused.after is None and "requires no approval" in refused.refusal
    assert refusing.refused == 1
    db.session.commit()
    assert row_counts() == before


def test_a_backtest_is_bounded_in_months_and_applications(app, org, monkeypatch):
    for months in (0, 37, -3):
        with pytest.raises(InvalidInput, match="from 1 to 36 months"):
            whatif.backtest(draft_of(LOWER_LEADER), months, utcnow())
    _file(org, "50000")
    _file(org, "60000")
    monkeypatch.setattr(whatif, "MAX_APPLICATIONS", 1)
    with pytest.raises(InvalidInput, match="2 applications were filed in the past 3 months; a back-test judges at "
                                           "most 1"):
        whatif.backtest(draft_of(LOWER_LEADER), 3, utcnow())


def test_months_before_keeps_the_day_or_takes_the_months_last(app):
    assert whatif.months_before(datetime(2026, 3, 31, 9), 1) == datetime(2026, 2, 28, 9)
    assert whatif.months_before(datetime(2026, 1, 15), 13) == datetime(2024, 12, 15)
    assert whatif.months_before(datetime(2024, 12, 15), 36) == datetime(2021, 12, 15)


def test_the_versions_own_form_fields_are_supposed_at_their_defaults(app, org, tmp_path):
    """A condition reading a field of the process's filing form runs on its default (or on an empty value), as a
    filing that left it would; the what-if does not stop on a value the application lacks."""
    from tests.services.test_filing import _deploy

    _deploy(tmp_path, form="""
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="copies" label="Copies" type="long" defaultValue="7" />
        <camunda:formField id="note" label="Note" type="string" />
      </camunda:formData></bpmn:extensionElements>""")
    xml = flows.get_version("purchase", 1).bpmn_xml
    assert 'decision == "reject"' in xml
    changed = xml.replace('decision == "reject"', 'decision == "reject" or (copies > 5 and note is None)')
    path = tmp_path / "purchase.bpmn"
    path.write_text(changed)
    flows.deploy_file(path, ACTOR)
    db.session.commit()
    result = whatif.simulate("purchase", 2, _spec(org, "50000"), None)
    assert _path(result)[-1] == ("end", "rejected")  # copies 7 and no note: the rejection's condition holds

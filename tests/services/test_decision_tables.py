"""The seal policy's decision tables, versioned and deployed under dual control: a changed table is in force for
applications filed after a second seal administrator approved it, never before."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, DeploymentStatus, PolicyVersion, RoleName
from app.models.audit import Actor
from app.services import accounts, approvals, decision_tables, deployments, policy
from app.workflow import InvalidDefinition
from tests.conftest import PASSWORD, Org, work_off_queue

SHIPPED = Path(__file__).resolve().parents[2] / "seal_policies" / "required_approvals.dmn"
NAME = "required_approvals.dmn"
FINANCE_ROW = b"""      <rule id="contract_over_two_million">
        <inputEntry id="c2m_kind"><text>-</text></inputEntry>
        <inputEntry id="c2m_seal"><text>-</text></inputEntry>
        <inputEntry id="c2m_type"><text>? in ("contract", "agreement")</text></inputEntry>
        <inputEntry id="c2m_amount"><text>? &gt; 2000000</text></inputEntry>
        <inputEntry id="c2m_department"><text>-</text></inputEntry>
        <outputEntry id="c2m_approver"><text>"APPROVER"</text></outputEntry>
        <outputEntry id="c2m_label"><text>"Finance director: contract above 2,000,000"</text></outputEntry>
      </rule>
    </decisionTable>"""


def _with_row(approver: str = "user:fiona") -> bytes:
    return SHIPPED.read_bytes().replace(b"    </decisionTable>", FINANCE_ROW.replace(b"APPROVER", approver.encode()))


@pytest.fixture
def people(org: Org):
    nora = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    fiona = accounts.save_user("fiona", "Fiona", PASSWORD, {RoleName.APPROVER}, org.department)
    db.session.commit()
    return nora, fiona


def _levels(org: Org, amount: int) -> list[str]:
    levels, _ = policy.required_approvals([org.contract_seal], "contract", Decimal(amount), org.employee)
    return [level["approver"] for level in levels]


def test_the_shipped_table_is_version_one_and_in_force(app, org):
    [row] = decision_tables.list_tables()
    assert (row.name, row.decision_id, [v.version for v in row.versions]) == (NAME, "required_approvals", [1])
    assert decision_tables.in_force()[NAME] == SHIPPED.read_bytes()


def test_a_changed_table_is_in_force_only_once_a_second_seal_administrator_approved_it(app, org, people):
    nora, _ = people
    sam = org.seal_admin
    before = _levels(org, 3_000_000)
    assert "user:fiona" not in before
    request = deployments.request_policy(_with_row(), NAME, "finance director above 2,000,000", sam, Actor.of(sam))
    db.session.commit()
    assert _levels(org, 3_000_000) == before  # still waiting
    task_id = deployments.review_task_id(request)
    assert task_id is not None and task_id not in {t.id for t in approvals.inbox(sam)}
    approvals.decide(task_id, nora, "approve", "", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()

    request = deployments.get_request(request.id)
    assert (request.status, request.deployed_version) == (DeploymentStatus.DEPLOYED, 2)
    newest = decision_tables.newest_version(NAME)
    assert newest is not None and (newest.deployed_by_id, newest.approved_by_id) == (sam.id, nora.id)
    assert _levels(org, 3_000_000) == [*before, "user:fiona"]
    assert _levels(org, 500_000) == _levels(org, 500_000)  # below the row, unchanged
    assert "user:fiona" not in _levels(org, 500_000)
    events = db.session.execute(select(AuditEvent.action).where(AuditEvent.object_type == "policy_version")).scalars()
    assert "policy.deployed" in list(events)


@pytest.mark.parametrize(("table", "said"), [
    (_with_row("role:janitor"), "approver 'role:janitor'"),
    (_with_row().replace(b'name="label"', b'name="why"'), "needs an output named 'label'"),
    (_with_row().replace(b'hitPolicy="COLLECT"', b'hitPolicy="ANY"'), "hit policy ANY"),
    (_with_row().replace(b"? &gt; 2000000", b"? &gt; __import__('os').getpid()"), "refused"),
    (b"<definitions", "not well-formed"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "a">]><d/>', "DOCTYPE"),
])
def test_a_table_that_cannot_be_in_force_is_refused_with_every_problem_and_nothing_is_asked(app, org, table, said):
    problems = decision_tables.validate_table(table, NAME)
    assert any(said in p.message for p in problems), problems
    with pytest.raises(InvalidDefinition):
        deployments.request_policy(table, NAME, "why", org.seal_admin, Actor.of(org.seal_admin))
    db.session.rollback()
    assert deployments.list_requests() == []
    assert db.session.execute(select(PolicyVersion.version)).scalars().all() == [1]


@pytest.mark.parametrize("name", ["../etc/passwd.dmn", "policy.xml", "", "a/b.dmn"])
def test_a_table_name_is_a_plain_dmn_file_name(app, org, name):
    with pytest.raises(InvalidDefinition, match="plain name"):
        deployments.request_policy(_with_row(), name, "why", org.seal_admin, Actor.of(org.seal_admin))


def _renamed(decision_id: str) -> bytes:
    """The shipped table with another decision id (and none of the filing table's own needs)."""
    return SHIPPED.read_bytes().replace(b'<decision id="required_approvals"', f'<decision id="{decision_id}"'.encode())


def test_a_decision_id_another_table_in_force_defines_is_refused_naming_both(app):
    """Decisions are found by id across the tables in force: a second table defining one would take its place in
    every process calling it. Also before the shipped table was ever deployed."""
    problems = decision_tables.validate_table(SHIPPED.read_bytes(), "shadow.dmn")
    assert any("'required_approvals' is already defined by required_approvals.dmn" in p.message
               and "shadow.dmn" in p.message for p in problems), problems
    assert decision_tables.validate_table(SHIPPED.read_bytes(), NAME) == []  # its own name: a new version of it
    assert decision_tables.validate_table(_renamed("limits"), "limits.dmn") == []


def test_a_table_shadowing_one_in_force_is_neither_asked_for_nor_deployed(app, org, people):
    nora, _ = people
    sam = org.seal_admin
    with pytest.raises(InvalidDefinition, match="already defined by required_approvals.dmn"):
        deployments.request_policy(SHIPPED.read_bytes(), "shadow.dmn", "why", sam, Actor.of(sam))
    db.session.rollback()
    assert deployments.list_requests() == []

    # Two new tables with one id, both asked for while neither is in force: the second is refused when deployed.
    first = deployments.request_policy(_renamed("limits"), "limits.dmn", "limits", sam, Actor.of(sam))
    second = deployments.request_policy(_renamed("limits"), "copy.dmn", "a copy", sam, Actor.of(sam))
    db.session.commit()
    for request in (first, second):
        approvals.decide(deployments.review_task_id(request), nora, "approve", "", Actor.of(nora))
        db.session.commit()
        work_off_queue(app)
        db.session.expire_all()
    first, second = deployments.get_request(first.id), deployments.get_request(second.id)
    assert first.status == DeploymentStatus.DEPLOYED
    assert second.status == DeploymentStatus.FAILED and "already defined by limits.dmn" in (second.outcome or "")
    assert decision_tables.newest_version("copy.dmn") is None
    with pytest.raises(InvalidDefinition, match="already defined by limits.dmn"):
        decision_tables.deploy_table(_renamed("limits"), "copy.dmn", Actor.of(sam))


def test_a_requests_decisions_name_the_table_in_force_they_replace_and_their_callers(app, org, people):
    sam = org.seal_admin
    changed = deployments.request_policy(_with_row(), NAME, "finance director", sam, Actor.of(sam))
    new = deployments.request_policy(_renamed("limits"), "limits.dmn", "limits", sam, Actor.of(sam))
    [same] = deployments.decisions_of(changed)
    assert (same.decision_id, same.defined_by) == ("required_approvals", (NAME,))
    [fresh] = deployments.decisions_of(new)
    assert (fresh.decision_id, fresh.defined_by, fresh.called_by) == ("limits", (), ())

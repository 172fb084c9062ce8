"""The usage ledger's entries: one per application a seal went onto in the period, oldest first, with the approvals
of the round that let it be sealed and the custodians who kept the seal at the time."""

from datetime import date, datetime, timedelta

import pytest

from app.errors import NotFound, PermissionDenied
from app.extensions import db
from app.models import AuditEvent
from app.services import ledger, seals
from app.services.ledger import Approver
from app.services.statistics import Period
from tests.services.usage_data import ACTOR, build_uses, decide

HALF = Period(date(2026, 1, 1), date(2026, 6, 30))


def test_one_entry_per_use_of_the_seal_with_who_approved(org):
    built = build_uses(org)
    a, b = built.applications["a"], built.applications["b"]
    start = datetime(2026, 3, 1)
    # a was returned once, then resubmitted: only the approvals after that count.
    decide(a, "head", "Head", start, start + timedelta(hours=1), org.other_approver)
    decide(a, "legal", "Legal", start, start + timedelta(hours=2), org.head, decision="return")
    decide(a, "revise", "Revise", start, start + timedelta(hours=3), org.employee, decision="resubmit")
    decide(a, "head", "Head", start, start + timedelta(hours=4), org.head)
    decide(a, "legal", "Legal", start, start + timedelta(hours=5), org.seal_admin, on_behalf_of=org.other_approver)
    db.session.commit()

    found = ledger.usage_ledger(org.contract_seal.id, HALF, org.auditor)
    assert (found.seal_name, found.period) == ("Contract Seal", HALF)
    assert [(e.application_id, e.sealed_at) for e in found.entries] == [
        (a.id, datetime(2026, 3, 10, 9)), (b.id, datetime(2026, 3, 12, 9))]
    first, second = found.entries
    assert (first.requester, first.department, first.document, first.document_type, first.copies) == (
        "Emma", "Sales", "采购合同 2026-017", "contract", 3)
    assert first.approvers == (Approver("Harry", None), Approver("Sam", "Olga"))
    assert (second.document, second.approvers) == ("framework.pdf", ())  # no title: the file's name

    company = ledger.usage_ledger(built.company_seal.id, HALF, org.seal_admin)
    assert [(e.application_id, e.requester) for e in company.entries] == [(b.id, "Emma"),
                                                                           (built.applications["c"].id, "王芳")]


def test_custodians_are_those_who_kept_the_seal_at_the_time(org):
    build_uses(org)
    seal = org.contract_seal
    # Sam took the seal over on 11 March, Olga on 20 March (after both uses).
    for when, keeper in ((datetime(2026, 3, 11), org.seal_admin), (datetime(2026, 3, 20), org.other_approver)):
        seals.set_holders(seal.id, seals.HoldersSpec(custodian_ids=(keeper.id,)), ACTOR)
        db.session.flush()
        db.session.query(AuditEvent).filter(AuditEvent.action == "seal.holders_changed").order_by(
            AuditEvent.id.desc()).first().at = when
    db.session.commit()

    found = ledger.usage_ledger(seal.id, HALF, org.auditor)
    assert [e.custodians for e in found.entries] == [(), ("Sam",)]  # none before the first change
    assert found.custodians == ("Olga",)


def test_a_seal_whose_holders_were_never_audited_lists_its_custodians_now(org):
    build_uses(org)
    org.contract_seal.custodians = [org.seal_admin]  # as a seal kept from before holders' changes were audited
    db.session.commit()
    found = ledger.usage_ledger(org.contract_seal.id, HALF, org.auditor)
    assert [e.custodians for e in found.entries] == [("Sam",), ("Sam",)] and found.custodians == ("Sam",)


def test_refused_to_others_and_for_an_unknown_seal(org):
    with pytest.raises(PermissionDenied):
        ledger.usage_ledger(org.contract_seal.id, HALF, org.employee)
    with pytest.raises(NotFound):
        ledger.usage_ledger(10_000, HALF, org.auditor)

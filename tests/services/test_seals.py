"""Revoking a seal records when and why; the organisation's CRL lists it with both. Hostile seal images are
refused at upload, leaving nothing behind, and every preview is bounded."""

import io
import threading
import time

import pytest
from cryptography import x509
from PIL import Image
from sqlalchemy import func, select, text

from app.errors import InvalidInput, PolicyViolation
from app.extensions import db
from app.models import AuditEvent, RevocationReason, Seal, SealKind, SealStatus
from app.models.audit import Actor, events_for
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec, SealUploadLimits
from app.pki import load_certificate
from app.services import keys, seal_images, seals
from tests.pdf import hostile_seals as hostile
from tests.pdf.test_seal_upload import REPRODUCTIONS

ACTOR = Actor.system("test")


def _count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_revocation_waits_for_the_document_being_signed_with_the_seal(app, org):
    """The signing transaction share-locks the seal's row: a revocation sent meanwhile waits for it to commit, then
    goes through; signing with the revoked seal afterwards is refused."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a revocation cannot run while a job signs")
    seal_id = org.contract_seal.id
    db.session.commit()
    seals.seal_for_signing(seal_id)  # this transaction signs with it, and stays open
    revoked = threading.Event()

    def revoke() -> None:
        with app.app_context():
            seals.set_status(seal_id, SealStatus.REVOKED, ACTOR, RevocationReason.KEY_COMPROMISE)
            db.session.commit()
            db.session.remove()
        revoked.set()

    thread = threading.Thread(target=revoke)
    thread.start()
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE seals%'"
    for _ in range(300):  # until the revocation's UPDATE waits on the lock (at most 30 s)
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))  # the view is read once per transaction
        if db.session.execute(text(waiting)).scalar():
            break
        time.sleep(0.1)
    assert db.session.execute(text(waiting)).scalar() == 1 and not revoked.is_set()
    db.session.commit()  # the document signed meanwhile is kept
    thread.join(timeout=30)
    assert revoked.is_set()
    with pytest.raises(PolicyViolation, match="revoked"):
        seals.seal_for_signing(seal_id)


def test_revoking_records_the_time_the_reason_and_the_note(app, org):
    before = utcnow().replace(microsecond=0)
    seal = seals.set_status(org.contract_seal.id, SealStatus.REVOKED, ACTOR, RevocationReason.SUPERSEDED,
                            "  replaced by the 2027 contract seal ")
    db.session.commit()
    assert seal.status == SealStatus.REVOKED and seal.revocation_reason == RevocationReason.SUPERSEDED
    assert seal.revocation_note == "replaced by the 2027 contract seal"
    # Whole seconds, as the CRL keeps them.
    assert seal.revoked_at is not None and before <= seal.revoked_at <= utcnow() and seal.revoked_at.microsecond == 0
    event = events_for("seal", seal.id)[-1]
    assert event.action == "seal.status_changed"
    assert event.details == {"status": "revoked", "reason": "superseded", "note": "replaced by the 2027 contract seal",
                             "revoked_at": seal.revoked_at.isoformat()}
    with pytest.raises(PolicyViolation, match="revoked for good"):
        seals.set_status(seal.id, SealStatus.ACTIVE, ACTOR)


@pytest.mark.parametrize("status, reason, note, message", [
    (SealStatus.REVOKED, None, "", "say why"),
    (SealStatus.SUSPENDED, RevocationReason.KEY_COMPROMISE, "", "only when revoking"),
    (SealStatus.SUSPENDED, None, "on holiday", "only when revoking"),
    (SealStatus.REVOKED, RevocationReason.KEY_COMPROMISE, "x" * 501, "longer than 500"),
])
def test_a_revocation_without_a_reason_or_a_reason_without_one_is_refused(app, org, status, reason, note, message):
    events = len(events_for("seal", org.contract_seal.id))
    with pytest.raises(InvalidInput, match=message):
        seals.set_status(org.contract_seal.id, status, ACTOR, reason, note)
    db.session.rollback()
    seal = seals.get_seal(org.contract_seal.id)
    assert seal.status == SealStatus.ACTIVE and seal.revoked_at is None and seal.revocation_reason is None
    assert len(events_for("seal", seal.id)) == events


def test_the_crl_lists_each_revoked_seal_with_its_date_and_reason(app, org):
    finance = seals.create_seal("Finance Seal", SealKind.FINANCE, SealImageSpec("TEST ORG", "FINANCE"), ACTOR)
    legacy = seals.create_seal("Old Seal", SealKind.COMPANY, SealImageSpec("TEST ORG", "OLD"), ACTOR)
    seals.create_seal("Active Seal", SealKind.COMPANY, SealImageSpec("TEST ORG", "ACTIVE"), ACTOR)
    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, ACTOR, RevocationReason.KEY_COMPROMISE)
    seals.set_status(finance.id, SealStatus.REVOKED, ACTOR, RevocationReason.CESSATION_OF_OPERATION)
    # Revoked before reasons were recorded (the migration leaves the reason empty).
    legacy.status, legacy.revoked_at = SealStatus.REVOKED, utcnow().replace(microsecond=0)
    db.session.commit()

    crl = keys.revocation_list()
    assert len(crl) == 3
    for seal, reason in ((org.contract_seal, x509.ReasonFlags.key_compromise),
                         (finance, x509.ReasonFlags.cessation_of_operation), (legacy, None)):
        entry = crl.get_revoked_certificate_by_serial_number(load_certificate(seal.certificate_pem).serial_number)
        assert entry is not None and entry.revocation_date_utc.replace(tzinfo=None) == seal.revoked_at
        codes = [ext.value.reason for ext in entry.extensions if isinstance(ext.value, x509.CRLReason)]
        assert codes == ([reason] if reason else [])


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_a_hostile_upload_is_refused_and_leaves_nothing_behind(app, org, name):
    build, message = REPRODUCTIONS[name]
    seals_before, events_before = _count(Seal), _count(AuditEvent)
    with pytest.raises(InvalidInput, match=message):
        seals.create_seal("Hostile", SealKind.CONTRACT, build(), ACTOR)
    assert _count(Seal) == seals_before and _count(AuditEvent) == events_before  # nothing pending either
    seal = seals.create_seal("Scanned", SealKind.CONTRACT, hostile.pdf_with_page(113), ACTOR)  # 40 mm: still fine
    assert seals.seal_named("Scanned") is seal


def test_the_upload_limits_come_from_the_settings(app, org):
    assert seal_images.upload_limits() == SealUploadLimits()  # the settings' defaults are the library's
    app.config.update(SEAL_MAX_ELEMENTS=50, SEAL_MAX_MB=1, SEAL_RENDER_SECONDS=0.5)
    limits = seal_images.upload_limits()
    assert (limits.max_elements, limits.max_bytes, limits.render_seconds) == (50, 2**20, 0.5)
    with pytest.raises(InvalidInput, match="over 50 elements"):
        seals.create_seal("Busy", SealKind.CONTRACT, hostile.svg_with_shapes(60), ACTOR)


def test_previews_are_bounded_even_for_a_seal_stored_before_the_bounds(app, org):
    # A 5 m page, accepted before uploads were bounded: its preview answered 500; now it is fitted.
    seal = seals.create_seal("Old Upload", SealKind.CONTRACT, SealImageSpec("OLD UPLOAD"), ACTOR)
    seal.current_image.image_pdf = hostile.pdf_with_page(14400)
    image = Image.open(io.BytesIO(seals.preview_png(seal)))
    assert image.size == (600, 600)
    seal.current_image.image_pdf = b"not a pdf"
    with pytest.raises(InvalidInput, match="not a readable PDF"):
        seals.preview_png(seal)


def _holders(**ids) -> seals.HoldersSpec:
    return seals.HoldersSpec(**ids)


def test_editing_renames_and_sets_holders_each_audited_once(app, org):
    admin = Actor.of(org.seal_admin)
    spec = seals.SealEditSpec("  Contract Seal 2027 ", _holders(custodian_ids=(org.seal_admin.id,),
                                                                department_ids=(org.department.id,)))
    seal = seals.edit_seal(org.contract_seal.id, spec, admin)
    db.session.commit()
    assert seal.name == "Contract Seal 2027" and [u.id for u in seal.custodians] == [org.seal_admin.id]
    renamed, holders = events_for("seal", seal.id)[-2:]
    assert (renamed.action, renamed.details) == ("seal.renamed", {"name": "Contract Seal 2027",
                                                                  "previous_name": "Contract Seal"})
    assert holders.action == "seal.holders_changed" and holders.details["custodian_ids"] == [org.seal_admin.id]
    # The same again changes nothing and records nothing.
    events = len(events_for("seal", seal.id))
    seals.edit_seal(seal.id, spec, admin)
    assert len(events_for("seal", seal.id)) == events
    # Reports name the seal by its current name, whatever name its certificate was issued with.
    assert keys.seal_names()[load_certificate(seal.certificate_pem).serial_number] == "Contract Seal 2027"


@pytest.mark.parametrize("name, holders, message", [
    ("", {}, "needs a name"),
    ("   ", {}, "needs a name"),
    ("x" * 201, {}, "at most 200"),
    ("Other Seal", {}, "already a seal named “Other Seal”"),
    ("New Name", {"owner_id": 1}, "only personal and legal-representative seals have an owner"),
    ("New Name", {"custodian_ids": (99999,)}, "choose active users"),
    ("New Name", {"department_ids": (99999,)}, "choose existing departments"),
])
def test_a_bad_edit_is_refused_and_nothing_changes(app, org, name, holders, message):
    seals.create_seal("Other Seal", SealKind.COMPANY, SealImageSpec("TEST ORG", "OTHER"), ACTOR)
    db.session.commit()
    before = (org.contract_seal.name, [d.id for d in org.contract_seal.user_departments])
    events = _count(AuditEvent)
    with pytest.raises(InvalidInput, match=message):
        seals.edit_seal(org.contract_seal.id, seals.SealEditSpec(name, _holders(**holders)), ACTOR)
    db.session.rollback()
    seal = db.session.get(Seal, org.contract_seal.id)
    assert (seal.name, [d.id for d in seal.user_departments]) == before and _count(AuditEvent) == events


def test_the_overview_pages_the_history_newest_first(app, org):
    for n in range(25):
        seals.set_holders(org.contract_seal.id, _holders(department_ids=(org.department.id,) if n % 2 else ()),
                          ACTOR)
    db.session.commit()
    first = seals.overview(org.contract_seal.id)
    assert (first.history.total, first.history.pages, first.history.page) == (26, 2, 1)  # with seal.created
    ids = [e.id for e in first.history.events]
    assert len(ids) == 20 and ids == sorted(ids, reverse=True)
    last = seals.overview(org.contract_seal.id, 2).history
    assert [e.action for e in last.events][-1] == "seal.created" and len(last.events) == 6
    assert max(e.id for e in last.events) < min(ids)
    assert seals.overview(org.contract_seal.id, 99).history.page == 2  # past the end: the last page
    assert seals.overview(org.contract_seal.id, -3).history.page == 1
    overview = seals.overview(org.contract_seal.id)
    assert [i.version for i in overview.images] == [1] and overview.usage.total == 0
    assert overview.usage.last_used_at is None and [c.current for c in overview.certificates] == [True]

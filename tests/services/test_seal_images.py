"""Seal image versions: a new image becomes the version sealing uses (also for an application approved before the
change), documents sealed before keep theirs, every sealed document records its version, earlier versions stay,
and a hostile or refused image changes nothing."""

import io
import subprocess

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.errors import InvalidInput, PolicyViolation
from app.extensions import db
from app.models import AuditEvent, Document, DocumentKind, RevocationReason, Seal, SealImage, SealStatus
from app.models.audit import Actor, events_for
from app.pdf import SealImageSpec, read_evidence
from app.services import keys, seal_images, seals, statistics
from app.services.documents import read_content
from tests.conftest import contract_pdf, file_and_approve, work_off_queue
from tests.pdf import hostile_seals as hostile
from tests.pdf.test_seal_upload import REPRODUCTIONS
from tests.pdf.verifiers import assert_independently_valid

ACTOR = Actor.system("test")


def blue_disc_png(side: int = 240) -> bytes:
    """A blue disc on a transparent square: unlike every seal SealFlow draws (red)."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    centre, radius = side / 2, side * 0.4
    for x in range(side):
        for y in range(side):
            if (x - centre) ** 2 + (y - centre) ** 2 < radius ** 2:
                image.putpixel((x, y), (20, 40, 200, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def ink(pdf: bytes, tmp_path, name: str) -> tuple[int, int]:
    """(red, blue) pixels of the document's last page as poppler draws it: which seal image is on the paper."""
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "2", "-l", "2", "-singlefile", str(tmp_path / f"{name}.pdf"),
                    str(tmp_path / name)], check=True)
    raw = Image.open(tmp_path / f"{name}.png").convert("RGB").tobytes()
    pixels = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 3)]
    red = sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)
    blue = sum(1 for r, g, b in pixels if b > 150 and r < 90 and g < 120)
    return red, blue


def _count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_new_version_becomes_current_and_the_old_ones_stay(app, org):
    first = org.contract_seal.current_image
    added = seal_images.add_image_version(org.contract_seal.id, blue_disc_png(), Actor.of(org.seal_admin),
                                          "  new seal carved ")
    db.session.commit()
    seal = db.session.get(Seal, org.contract_seal.id)
    assert (seal.image_version, seal.current_image.id, added.version) == (2, added.id, 2)
    assert added.source == "uploaded" and added.note == "new seal carved" and added.created_by_id == org.seal_admin.id
    assert [i.version for i in seal_images.image_versions(seal.id)] == [2, 1]
    assert seal_images.image_version(seal.id, 1).image_pdf == first.image_pdf != added.image_pdf
    event = events_for("seal", seal.id)[-1]
    assert event.action == "seal.image_replaced" and event.actor_name == "sam"
    assert event.details == {"version": 2, "sha256": added.sha256, "source": "uploaded", "previous_version": 1,
                             "previous_sha256": first.sha256, "note": "new seal carved"}
    drawn = seal_images.add_image_version(seal.id, SealImageSpec("TEST ORG", "合同专用章", shape="oval"), ACTOR)
    assert (drawn.version, drawn.source) == (3, "drawn") and drawn.image_svg.startswith("<")
    # Every version's preview can be drawn.
    assert Image.open(io.BytesIO(seal_images.preview_png(seal_images.image_version(seal.id, 1)))).mode == "RGBA"


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_a_hostile_image_is_refused_and_nothing_changes(app, org, name):
    build, message = REPRODUCTIONS[name]
    images, events = _count(SealImage), _count(AuditEvent)
    with pytest.raises(InvalidInput, match=message):
        seal_images.add_image_version(org.contract_seal.id, build(), ACTOR)
    db.session.rollback()
    assert _count(SealImage) == images and _count(AuditEvent) == events
    assert db.session.get(Seal, org.contract_seal.id).image_version == 1


def test_a_revoked_seal_keeps_its_image_and_a_long_note_is_refused(app, org):
    with pytest.raises(InvalidInput, match="longer than 200"):
        seal_images.add_image_version(org.contract_seal.id, SealImageSpec("X"), ACTOR, "x" * 201)
    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, ACTOR, RevocationReason.SUPERSEDED)
    db.session.commit()
    with pytest.raises(PolicyViolation, match="revoked for good"):
        seal_images.add_image_version(org.contract_seal.id, hostile.pdf_with_page(113), ACTOR)
    db.session.rollback()
    assert db.session.get(Seal, org.contract_seal.id).image_version == 1 and _count(SealImage) == 1


def _sealed(application_id: int) -> Document:
    return db.session.execute(select(Document).where(Document.application_id == application_id,
                                                     Document.kind == DocumentKind.SEALED)).scalar_one()


def test_documents_sealed_before_keep_their_image_and_those_sealed_after_get_the_new_one(app, client, org, tmp_path):
    """A: sealed before the change. B: approved before the change, sealed after it (the job runs then): it gets the
    new image, as every sealing after the change does. Each records its version, in the database and in the
    evidence its signature covers."""
    before = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    approved_before = file_and_approve(client, org.contract_seal.id, contract_pdf())
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Document).where(
        Document.application_id == approved_before, Document.kind == DocumentKind.SEALED)).scalar_one() == 0
    old = db.session.get(Seal, org.contract_seal.id).current_image
    new = seal_images.add_image_version(org.contract_seal.id, blue_disc_png(), ACTOR)
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()

    a, b = _sealed(before), _sealed(approved_before)
    a_pdf, b_pdf = read_content(a), read_content(b)
    assert (a.seal_image_id, b.seal_image_id) == (old.id, new.id)
    for pdf, image in ((a_pdf, old), (b_pdf, new)):
        assert read_evidence(pdf)["seal_image"] == {"version": image.version, "sha256": image.sha256}
    red_a, blue_a = ink(a_pdf, tmp_path, "a")
    red_b, blue_b = ink(b_pdf, tmp_path, "b")
    assert red_a > 200 and blue_a == 0, (red_a, blue_a)  # the red seal SealFlow drew
    assert blue_b > 200 and red_b == 0, (red_b, blue_b)  # the blue upload, stamp and signature appearance alike
    sealed_events = [e for e in events_for("seal_application", approved_before) if e.action == "document.sealed"]
    assert sealed_events[0].details["seal_image_version"] == 2
    assert sealed_events[0].details["seal_image_sha256"] == new.sha256
    for pdf, name in ((a_pdf, "a-check"), (b_pdf, "b-check")):
        assert_independently_valid(pdf, keys.root_certificate_pem(), tmp_path / name)

    usage = statistics.seal_usage(org.contract_seal.id)
    assert usage.total == 2 and usage.by_image_version == {1: 1, 2: 1}
    assert usage.last_used_at == b.created_at and usage.months[-1].count == 2 and len(usage.months) == 12
    assert sum(m.count for m in usage.months[:-1]) == 0
    assert usage.months[-1].label == f"{b.created_at:%Y-%m}"

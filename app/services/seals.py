"""The seal registry."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import InvalidInput, NotFound, PolicyViolation
from app.extensions import db
from app.models import Department, RevocationReason, Seal, SealKind, SealStatus, User
from app.models.audit import Actor, record
from app.models.seal import REVOCATION_NOTE_LIMIT
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec, load_seal_image, render_seal_pdf, render_seal_png, render_seal_svg
from app.services import keys
from app.services.documents import pdf_errors


def create_seal(
    name: str,
    kind: SealKind,
    image: SealImageSpec | bytes,
    actor: Actor,
    department: Department | None = None,
    owner: User | None = None,
) -> Seal:
    """Register a seal with its own key and certificate; the image is drawn from a spec, or an uploaded
    PNG, SVG or PDF (the bytes)."""
    name = name.strip()
    if not name:
        raise InvalidInput("a seal needs a name")
    if db.session.execute(select(Seal.id).where(Seal.name == name)).scalar() is not None:
        raise InvalidInput(f"there is already a seal named “{name}”")
    with pdf_errors():
        if isinstance(image, bytes):
            image_pdf, image_svg = load_seal_image(image), ""
        else:
            image_pdf, image_svg = render_seal_pdf(image), render_seal_svg(image)
    certificate_pem, encrypted_key = keys.new_seal_key(name)
    seal = Seal(
        name=name, kind=kind, status=SealStatus.ACTIVE, owner_department=department, owner_user=owner,
        image_pdf=image_pdf, image_svg=image_svg, certificate_pem=certificate_pem, encrypted_key=encrypted_key,
    )
    db.session.add(seal)
    db.session.flush()
    record(actor, "seal.created", "seal", seal.id, name=name, kind=kind)
    return seal


def set_status(
    seal_id: int, status: SealStatus, actor: Actor, reason: RevocationReason | None = None, note: str = ""
) -> Seal:
    """Suspend, reactivate or revoke a seal; revoking records when and why (an RFC 5280 reason and an optional
    note), and a revoked seal stays revoked."""
    seal = get_seal(seal_id)
    if seal.status == SealStatus.REVOKED:
        raise PolicyViolation(f"the seal “{seal.name}” is revoked for good")
    note = note.strip()
    if status != SealStatus.REVOKED and (reason is not None or note):
        raise InvalidInput("a reason is given only when revoking a seal")
    if status == SealStatus.REVOKED and reason is None:
        raise InvalidInput(f"say why the seal “{seal.name}” is revoked: key compromise, superseded or cessation")
    if len(note) > REVOCATION_NOTE_LIMIT:
        raise InvalidInput(f"the revocation note is longer than {REVOCATION_NOTE_LIMIT} characters")
    seal.status = status
    if status == SealStatus.REVOKED:
        # From now on its certificate is in the organisation's CRL, which keeps whole seconds: the recorded time
        # is the CRL's, so that pages and verifiers name the same moment (a signature within it is not before it).
        seal.revoked_at = utcnow().replace(microsecond=0)
        seal.revocation_reason, seal.revocation_note = reason, note or None
        record(actor, "seal.status_changed", "seal", seal.id, status=status, reason=reason, note=note,
               revoked_at=seal.revoked_at.isoformat())
    else:
        record(actor, "seal.status_changed", "seal", seal.id, status=status)
    return seal


def get_seal(seal_id: int) -> Seal:
    """A seal by id."""
    seal = db.session.get(Seal, seal_id)
    if seal is None:
        raise NotFound(f"seal {seal_id} does not exist")
    return seal


def seal_named(name: str) -> Seal:
    """A seal by its name (for operators at the command line)."""
    seal = db.session.execute(select(Seal).where(Seal.name == name)).scalar()
    if seal is None:
        raise NotFound(f"there is no seal named “{name}”")
    return seal


def usable_seal(seal_id: int) -> Seal:
    """A seal that may be applied now; suspended and revoked seals are refused."""
    seal = get_seal(seal_id)
    if not seal.is_usable:
        raise PolicyViolation(f"the seal “{seal.name}” is {seal.status.value} and cannot be used")
    return seal


def preview_png(seal: Seal) -> bytes:
    """The seal image as a transparent PNG for the web pages."""
    return render_seal_png(seal.image_pdf, dpi=100)


def list_seals() -> list[Seal]:
    """Every seal, by name."""
    return list(db.session.execute(select(Seal).order_by(Seal.name)).scalars())

"""The seal registry."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFound, PolicyViolation
from app.extensions import db
from app.models import Department, Seal, SealKind, SealStatus, User
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec, render_seal_pdf, render_seal_svg
from app.services import keys
from app.services.audit import Actor, record


def create_seal(
    name: str,
    kind: SealKind,
    image: SealImageSpec,
    actor: Actor,
    department: Department | None = None,
    owner: User | None = None,
) -> Seal:
    """Register a seal with a generated vector image and its own key and certificate."""
    certificate_pem, encrypted_key = keys.new_seal_key(name)
    seal = Seal(
        name=name, kind=kind, status=SealStatus.ACTIVE, owner_department=department, owner_user=owner,
        image_pdf=render_seal_pdf(image), image_svg=render_seal_svg(image),
        certificate_pem=certificate_pem, encrypted_key=encrypted_key,
    )
    db.session.add(seal)
    db.session.flush()
    record(actor, "seal.created", "seal", seal.id, name=name, kind=kind)
    return seal


def set_status(seal_id: int, status: SealStatus, actor: Actor) -> Seal:
    """Suspend, reactivate or revoke a seal; a revoked seal stays revoked."""
    seal = get_seal(seal_id)
    if seal.status == SealStatus.REVOKED:
        raise PolicyViolation(f"the seal “{seal.name}” is revoked for good")
    seal.status = status
    if status == SealStatus.REVOKED:
        seal.revoked_at = utcnow()  # from now on its certificate is in the organisation's CRL
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


def list_seals() -> list[Seal]:
    """Every seal, by name."""
    return list(db.session.execute(select(Seal).order_by(Seal.name)).scalars())

"""The seal registry."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import Department, RevocationReason, Seal, SealKind, SealStatus, User
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.seal import REVOCATION_NOTE_LIMIT
from app.models.timestamps import utcnow
from app.pdf import (
    SealImageSpec,
    SealUploadLimits,
    load_seal_image,
    render_seal_pdf,
    render_seal_preview,
    render_seal_svg,
)
from app.services import keys
from app.services.documents import pdf_errors

# The kinds of seal that are a person's signature, with an owner who authorizes its use.
OWNED_KINDS = (SealKind.PERSONAL, SealKind.LEGAL_REPRESENTATIVE)


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
            image_pdf, image_svg = load_seal_image(image, upload_limits()), ""
        else:
            image_pdf, image_svg = render_seal_pdf(image), render_seal_svg(image)
    certificate_pem, encrypted_key = keys.new_seal_key(name)
    seal = Seal(
        name=name, kind=kind, status=SealStatus.ACTIVE, owner_department=department, owner_user=owner,
        image_pdf=image_pdf, image_svg=image_svg, certificate_pem=certificate_pem, encrypted_key=encrypted_key,
        # Until a seal administrator says otherwise, the department the seal belongs to may request it.
        user_departments=[department] if department is not None else [],
    )
    db.session.add(seal)
    db.session.flush()
    record(actor, "seal.created", "seal", seal.id, name=name, kind=kind)
    return seal


def upload_limits() -> SealUploadLimits:
    """The bounds of an uploaded seal image, from the SEALFLOW_SEAL_* settings."""
    config = current_app.config
    return SealUploadLimits(
        max_bytes=config["SEAL_MAX_MB"] * 2**20, max_side_px=config["SEAL_MAX_SIDE_PX"],
        max_elements=config["SEAL_MAX_ELEMENTS"], max_depth=config["SEAL_MAX_DEPTH"],
        max_objects=config["SEAL_MAX_OBJECTS"], max_decoded_bytes=config["SEAL_MAX_DECODED_MB"] * 2**20,
        max_operations=config["SEAL_MAX_OPERATIONS"], render_seconds=config["SEAL_RENDER_SECONDS"],
        max_pixels=max(SealUploadLimits.max_pixels, config["SEAL_MAX_SIDE_PX"] ** 2),
    )


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


@dataclass(frozen=True)
class HoldersSpec:
    """Who a seal belongs to and who works with it: the owner of a personal or legal-representative seal, the
    custodians who keep it, and the departments and people who may request it."""

    owner_id: int | None = None
    custodian_ids: tuple[int, ...] = ()
    department_ids: tuple[int, ...] = ()
    user_ids: tuple[int, ...] = ()


def _users(user_ids: tuple[int, ...]) -> list[User]:
    found = list(db.session.execute(select(User).where(User.id.in_(set(user_ids)), User.active)).scalars())
    if len(found) != len(set(user_ids)):
        raise InvalidInput("choose active users")
    return found


def set_holders(seal_id: int, spec: HoldersSpec, actor: Actor) -> Seal:
    """Set a seal's owner, custodians and users (seal administrators). Only personal and legal-representative
    seals have an owner: the leader whose signature they are."""
    seal = get_seal(seal_id)
    owner = _users((spec.owner_id,))[0] if spec.owner_id is not None else None
    if owner is not None and seal.kind not in OWNED_KINDS:
        raise InvalidInput("only personal and legal-representative seals have an owner")
    departments = list(db.session.execute(select(Department).where(Department.id.in_(set(spec.department_ids))))
                       .scalars())
    if len(departments) != len(set(spec.department_ids)):
        raise InvalidInput("choose existing departments")
    seal.owner_user = owner
    seal.custodians = _users(spec.custodian_ids)
    seal.user_people = _users(spec.user_ids)
    seal.user_departments = departments
    db.session.flush()
    record(actor, "seal.holders_changed", "seal", seal.id, owner_id=spec.owner_id,
           custodian_ids=sorted(set(spec.custodian_ids)), department_ids=sorted(set(spec.department_ids)),
           user_ids=sorted(set(spec.user_ids)))
    return seal


def get_seal(seal_id: int) -> Seal:
    """A seal by id."""
    seal = get_or_not_found(Seal, seal_id, "seal")
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


def requestable_seal(seal_id: int, user: User) -> Seal:
    """A usable seal the user may file applications for (they, or their department, are among its users)."""
    seal = usable_seal(seal_id)
    if not seal.may_be_requested_by(user):
        raise PermissionDenied(f"you may not request the seal “{seal.name}”; its users are set by a seal "
                               "administrator")
    return seal


def requestable_seals(user: User) -> list[Seal]:
    """The usable seals the user may request, by name (what the filing form offers)."""
    return [s for s in list_seals() if s.is_usable and s.may_be_requested_by(user)]


def preview_png(seal: Seal) -> bytes:
    """The seal image as a transparent PNG for the web pages, at most 600 pixels a side (an upload's preview was
    timed before it was accepted)."""
    with pdf_errors():
        return render_seal_preview(seal.image_pdf)


def list_seals() -> list[Seal]:
    """Every seal, by name."""
    return list(db.session.execute(select(Seal).order_by(Seal.name)).scalars())

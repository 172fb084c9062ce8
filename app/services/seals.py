"""The seal registry: seals, their names, status and holders. (Images: seal_images; keys and certificates: keys;
history and usage: statistics.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import Department, RevocationReason, Seal, SealImage, SealKind, SealStatus, User
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.seal import REVOCATION_NOTE_LIMIT
from app.models.timestamps import utcnow
from app.services import audit, keyring, keys, seal_images, statistics

if TYPE_CHECKING:
    from app.pdf import SealImageSpec

# The kinds of seal that are a person's signature, with an owner who authorizes its use.
OWNED_KINDS = (SealKind.PERSONAL, SealKind.LEGAL_REPRESENTATIVE)
# What seals.name holds.
NAME_LIMIT = 200


def _check_name(name: str, seal_id: int | None = None) -> str:
    """A seal's name, trimmed: given, at most NAME_LIMIT characters, and no other seal's."""
    name = name.strip()
    if not name:
        raise InvalidInput("a seal needs a name")
    if len(name) > NAME_LIMIT:
        raise InvalidInput(f"a seal's name is at most {NAME_LIMIT} characters")
    taken = db.session.execute(select(Seal.id).where(Seal.name == name, Seal.id != (seal_id or 0))).scalar()
    if taken is not None:
        raise InvalidInput(f"there is already a seal named “{name}”")
    return name


def create_seal(
    name: str,
    kind: SealKind,
    image: SealImageSpec | bytes,
    actor: Actor,
    department: Department | None = None,
    owner: User | None = None,
) -> Seal:
    """Register a seal with its own key and certificate; the image (its version 1) is drawn from a spec, or an
    uploaded PNG, SVG or PDF (the bytes)."""
    name = _check_name(name)
    prepared = seal_images.prepare_image(image)
    certificate_pem, encrypted_key = keys.new_seal_key(name)
    seal = Seal(
        name=name, kind=kind, status=SealStatus.ACTIVE, owner_department=department, owner_user=owner,
        image_version=1, certificate_pem=certificate_pem, encrypted_key=encrypted_key,
        # Until a seal administrator says otherwise, the department the seal belongs to may request it.
        user_departments=[department] if department is not None else [],
    )
    db.session.add(seal)
    db.session.flush()
    db.session.add(seal_images.first_version(seal.id, prepared, actor.user_id))
    db.session.flush()
    record(actor, "seal.created", "seal", seal.id, name=name, kind=kind, image_sha256=prepared.sha256)
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
    keyring.forget_seal(seal.id)  # this process's copy of its key; other processes drop theirs when they next sign
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


def _holders(seal: Seal, spec: HoldersSpec) -> tuple[User | None, list[User], list[User], list[Department]]:
    """The owner, custodians, users and departments the spec names, checked: active people, existing departments,
    and an owner only for personal and legal-representative seals (the leader whose signature they are)."""
    owner = _users((spec.owner_id,))[0] if spec.owner_id is not None else None
    if owner is not None and seal.kind not in OWNED_KINDS:
        raise InvalidInput("only personal and legal-representative seals have an owner")
    departments = list(db.session.execute(select(Department).where(Department.id.in_(set(spec.department_ids))))
                       .scalars())
    if len(departments) != len(set(spec.department_ids)):
        raise InvalidInput("choose existing departments")
    return owner, _users(spec.custodian_ids), _users(spec.user_ids), departments


def _holders_of(seal: Seal) -> HoldersSpec:
    return HoldersSpec(seal.owner_user_id, tuple(sorted(u.id for u in seal.custodians)),
                       tuple(sorted(d.id for d in seal.user_departments)),
                       tuple(sorted(u.id for u in seal.user_people)))


def _apply_holders(seal: Seal, spec: HoldersSpec, actor: Actor) -> None:
    owner, custodians, users, departments = _holders(seal, spec)
    seal.owner_user, seal.custodians, seal.user_people, seal.user_departments = owner, custodians, users, departments
    db.session.flush()
    record(actor, "seal.holders_changed", "seal", seal.id, owner_id=spec.owner_id,
           custodian_ids=sorted(set(spec.custodian_ids)), department_ids=sorted(set(spec.department_ids)),
           user_ids=sorted(set(spec.user_ids)))


def set_holders(seal_id: int, spec: HoldersSpec, actor: Actor) -> Seal:
    """Set a seal's owner, custodians and users (seal administrators). Only personal and legal-representative
    seals have an owner: the leader whose signature they are."""
    seal = get_seal(seal_id)
    _apply_holders(seal, spec, actor)
    return seal


@dataclass(frozen=True)
class SealEditSpec:
    """What a seal administrator changes on a seal's edit page: its name and its holders."""

    name: str
    holders: HoldersSpec


def edit_seal(seal_id: int, spec: SealEditSpec, actor: Actor) -> Seal:
    """Rename a seal (the name stays unique; certificates keep the name they were issued with, and reports name
    the seal by its current name) and set its holders; each change is audited, an unchanged part is not."""
    seal = get_seal(seal_id)
    name = _check_name(spec.name, seal.id)
    # Checked before anything changes, so that a wrong holder leaves the name as it was.
    _holders(seal, spec.holders)
    if name != seal.name:
        previous, seal.name = seal.name, name
        try:
            db.session.flush()
        except IntegrityError as exc:  # another administrator took the name meanwhile
            raise InvalidInput(f"there is already a seal named “{name}”") from exc
        record(actor, "seal.renamed", "seal", seal.id, name=name, previous_name=previous)
    wanted = HoldersSpec(spec.holders.owner_id, *(tuple(sorted(set(ids))) for ids in (
        spec.holders.custodian_ids, spec.holders.department_ids, spec.holders.user_ids)))
    if wanted != _holders_of(seal):
        _apply_holders(seal, wanted, actor)
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
    return _usable(get_seal(seal_id))


_SIGNING_STATE = ["status", "certificate_pem", "encrypted_key", "token_key_label"]


def seal_for_signing(seal_id: int) -> Seal:
    """usable_seal, read afresh and share-locked until the transaction ends (on PostgreSQL; SQLite has one writer
    anyway): a revocation, a suspension, a renewal or a key move waits for the document being signed with it now
    to be committed, so that no document is signed with a seal that was revoked while it was being signed."""
    seal = get_seal(seal_id)  # as the caller loaded it (with its image), its status and key read again below
    db.session.refresh(seal, _SIGNING_STATE, with_for_update={"read": True})
    return _usable(seal)


def _usable(seal: Seal) -> Seal:
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
    """The seal's current image as a transparent PNG for the web pages, at most 600 pixels a side."""
    return seal_images.preview_png(seal.current_image)


@dataclass(frozen=True)
class SealOverview:
    """Everything a seal's page shows: the seal, its image versions (newest first), its certificates (current
    first), its usage and one page of its history (audit events, newest first)."""

    seal: Seal
    images: list[SealImage]
    certificates: list[keys.CertificateInfo]
    usage: statistics.SealUsage
    history: audit.EventsPage


# Events a seal's page shows at once.
HISTORY_PAGE_SIZE = 20


def overview(seal_id: int, history_page: int = 1) -> SealOverview:
    """A seal with its image versions, certificates, usage and a page of its history."""
    seal = get_seal(seal_id)
    return SealOverview(seal, seal_images.image_versions(seal.id), keys.certificate_history(seal),
                        statistics.seal_usage(seal.id), audit.events_page("seal", seal.id, history_page,
                                                                          HISTORY_PAGE_SIZE))


def list_seals() -> list[Seal]:
    """Every seal, by name."""
    return list(db.session.execute(select(Seal).order_by(Seal.name)).scalars())

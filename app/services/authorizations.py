"""Signature authorizations (签字授权): a leader grants in advance that their signature may be applied, after the
policy's approvals, to applications within a scope (processes, document types, departments, an amount ceiling, a
period) for a number of uses. The grant is itself a letter signed with the leader's seal. A use is taken by the
sealing job under the gate, by one conditional UPDATE, so racing jobs never take more uses than were granted, and a
revoked or used-up grant stops at once even jobs already queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import exists, select, update

from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.models import AuthorizationUse, Blob, RoleName, SealApplication, SignatureAuthorization, User
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow
from app.services import accounts, documents, seals
from app.services.signing import sign_with_seal

MAX_USES = 10_000


@dataclass(frozen=True)
class GrantSpec:
    """What a leader grants: their seal, the scope (empty tuples cover everything), the period and the uses."""

    seal_id: int
    valid_from: datetime
    valid_until: datetime
    uses: int
    process_ids: tuple[str, ...] = ()
    document_types: tuple[str, ...] = ()
    department_ids: tuple[int, ...] = ()
    amount_ceiling: Decimal | None = None
    note: str = ""


def _check(spec: GrantSpec, leader: User) -> None:
    if not leader.has_role(RoleName.LEADER):
        raise PermissionDenied("only leaders grant signature authorizations")
    seal = seals.usable_seal(spec.seal_id)
    if seal.owner_user_id != leader.id:
        raise PermissionDenied(f"the seal “{seal.name}” is not your signature; only its owner authorizes its use")
    if not 1 <= spec.uses <= MAX_USES:
        raise InvalidInput(f"the number of uses must be between 1 and {MAX_USES}")
    if spec.valid_until <= spec.valid_from or spec.valid_until <= utcnow():
        raise InvalidInput("the period must end after it starts, and in the future")
    if spec.amount_ceiling is not None and not (Decimal(0) <= spec.amount_ceiling < Decimal(10) ** 14):
        raise InvalidInput("the amount ceiling must be a positive number below 10^14")
    known = {d.id for d in accounts.list_departments()}
    if not set(spec.department_ids) <= known:
        raise InvalidInput("choose existing departments")


def _letter(spec: GrantSpec, leader: User) -> bytes:
    """The authorization letter (授权书): the terms, then the leader's signature with their seal."""
    from app.pdf import LetterSpec, StampSpec, render_letter

    seal = seals.usable_seal(spec.seal_id)
    every = "全部 / all"
    lines = (
        f"授权人 Grantor: {leader.display_name}",
        f"签章 Signature: {seal.name}",
        f"单位 Organisation: {current_app.config['ORGANISATION_NAME']}",
        "",
        "本人授权：在用印制度要求的审批全部通过后，于下列范围内自动加盖本人签章。",
        "I authorize my signature to be applied, after every approval the seal policy requires, within:",
        f"流程 Processes: {', '.join(spec.process_ids) or every}",
        f"文件类型 Document types: {', '.join(spec.document_types) or every}",
        f"部门 Departments: {', '.join(accounts.get_department(d).name for d in spec.department_ids) or every}",
        f"金额上限 Amount ceiling: {'—' if spec.amount_ceiling is None else f'{spec.amount_ceiling:,.2f}'}",
        f"有效期 Valid: {spec.valid_from:%Y-%m-%d %H:%M} — {spec.valid_until:%Y-%m-%d %H:%M} UTC",
        f"次数 Uses: {spec.uses}",
        *((f"说明 Note: {spec.note}",) if spec.note else ()),
        "",
        "本授权可随时撤销，撤销即时生效。 This authorization may be revoked at any time, with immediate effect.",
    )
    content = render_letter(LetterSpec("签字授权书 Signature Authorization", lines))
    with documents.pdf_errors():
        return sign_with_seal(seal, content, f"Authorization_{leader.id}_{seal.id}", "Signature authorization",
                              StampSpec(page=1, x_mm=25, y_mm=25, size_mm=40))


def grant(spec: GrantSpec, leader: User, actor: Actor) -> SignatureAuthorization:
    """Record a leader's authorization with its signed letter."""
    _check(spec, leader)
    letter_sha256 = documents.store_blob(_letter(spec, leader))
    authorization = SignatureAuthorization(
        seal_id=spec.seal_id, leader_id=leader.id, process_ids=list(spec.process_ids),
        document_types=list(spec.document_types), department_ids=list(spec.department_ids),
        amount_ceiling=spec.amount_ceiling, valid_from=spec.valid_from, valid_until=spec.valid_until,
        uses_granted=spec.uses, uses_left=spec.uses, letter_sha256=letter_sha256, note=spec.note.strip()[:500])
    db.session.add(authorization)
    db.session.flush()
    record(actor, "authorization.granted", "signature_authorization", authorization.id, seal_id=spec.seal_id,
           leader_id=leader.id, letter_sha256=letter_sha256, **authorization.scope())
    return authorization


def get_authorization(authorization_id: int) -> SignatureAuthorization:
    """An authorization by id."""
    found = get_or_not_found(SignatureAuthorization, authorization_id, "authorization")
    return found


def letter_of(authorization: SignatureAuthorization) -> bytes:
    """The signed authorization letter (PDF)."""
    content = db.session.execute(select(Blob.content).where(Blob.sha256 == authorization.letter_sha256)).scalar_one()
    return bytes(content)


def can_see(user: User, authorization: SignatureAuthorization) -> bool:
    """The leader who granted it, seal administrators and auditors."""
    return user.id == authorization.leader_id or bool(user.role_names & {RoleName.SEAL_ADMIN, RoleName.AUDITOR})


def revoke(authorization_id: int, leader: User, actor: Actor) -> SignatureAuthorization:
    """The leader withdraws an authorization; from this moment it covers nothing, queued jobs included."""
    authorization = get_authorization(authorization_id)
    if authorization.leader_id != leader.id:  # someone else's: as if it were not there
        raise NotFound(f"authorization {authorization_id} does not exist")
    if authorization.revoked_at is None:
        authorization.revoked_at = utcnow()
        record(actor, "authorization.revoked", "signature_authorization", authorization.id,
               uses_left=authorization.uses_left)
    return authorization


def authorizations_of(leader: User) -> list[SignatureAuthorization]:
    """The leader's authorizations, newest first."""
    query = (select(SignatureAuthorization).where(SignatureAuthorization.leader_id == leader.id)
             .order_by(SignatureAuthorization.id.desc()))
    return list(db.session.execute(query).scalars())


def uses_of(authorization: SignatureAuthorization) -> list[AuthorizationUse]:
    """The applications signed under it, oldest first."""
    query = (select(AuthorizationUse).where(AuthorizationUse.authorization_id == authorization.id)
             .order_by(AuthorizationUse.id))
    return list(db.session.execute(query).scalars())


def covers(authorization: SignatureAuthorization, application: SealApplication, at: datetime) -> bool:
    """Whether the authorization is in force at `at` and its scope holds the application."""
    department_id = application.requester.department_id
    return (authorization.revoked_at is None and authorization.uses_left > 0
            and authorization.valid_from <= at < authorization.valid_until
            and authorization.seal_id == application.seal_id and authorization.seal.owner_user_id ==
            authorization.leader_id
            and (not authorization.process_ids or application.process_id in authorization.process_ids)
            and (not authorization.document_types or application.document_type in authorization.document_types)
            and (not authorization.department_ids or department_id in authorization.department_ids)
            and (authorization.amount_ceiling is None
                 or (application.amount is not None and application.amount <= authorization.amount_ceiling)))


def covering(application: SealApplication) -> SignatureAuthorization | None:
    """The oldest authorization of the seal's owner that covers the application now, if any."""
    owner = application.seal.owner_user_id
    if owner is None:
        return None
    query = (select(SignatureAuthorization).where(
        SignatureAuthorization.seal_id == application.seal_id, SignatureAuthorization.leader_id == owner,
        SignatureAuthorization.revoked_at.is_(None), SignatureAuthorization.uses_left > 0)
        .order_by(SignatureAuthorization.id))
    now = utcnow()
    return next((a for a in db.session.execute(query).scalars() if covers(a, application, now)), None)


def take_use(authorization_id: int, application: SealApplication, actor: Actor) -> bool:
    """Take one use of the authorization for the application, if it still covers it: True when taken now or
    taken already by this application (a job run twice uses it once). The UPDATE only succeeds while uses are
    left and the grant stands, so of N+1 racing jobs with N uses left exactly N succeed."""
    already = select(exists().where(AuthorizationUse.authorization_id == authorization_id,
                                    AuthorizationUse.application_id == application.id))
    if db.session.execute(already).scalar():
        return True
    authorization = db.session.get(SignatureAuthorization, authorization_id)
    if authorization is None or not covers(authorization, application, utcnow()):
        return False
    taken = db.session.execute(
        update(SignatureAuthorization)
        .where(SignatureAuthorization.id == authorization_id, SignatureAuthorization.uses_left > 0,
               SignatureAuthorization.revoked_at.is_(None))
        .values(uses_left=SignatureAuthorization.uses_left - 1)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    # A job runs in one worker at a time (its claim is a conditional UPDATE); should two runs of one job still
    # collide here, the unique key fails the later one, which rolls back with its UPDATE and finds the use taken.
    db.session.add(AuthorizationUse(authorization_id=authorization_id, application_id=application.id))
    db.session.flush()
    db.session.expire(authorization, ["uses_left"])
    record(actor, "authorization.used", "signature_authorization", authorization_id, application_id=application.id)
    return True


def evidence_of(authorization_id: int) -> dict[str, object]:
    """What a document signed under an authorization records of it."""
    authorization = get_authorization(authorization_id)
    return {"id": authorization.id, "leader": authorization.leader.display_name,
            "granted_at": authorization.created_at.isoformat(timespec="seconds") + "Z",
            "letter_sha256": authorization.letter_sha256}


def find_for_application(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `find_signature_authorization`: which of the seal owner's authorizations covers the
    application now ({"authorization_id": id or None}); it applies nothing (the signing job takes the use)."""
    application = db.session.get(SealApplication, int(params["application_id"]))
    if application is None:
        raise NotFound(f"application {params['application_id']} does not exist")
    found = covering(application)
    return {"authorization_id": found.id if found else None}

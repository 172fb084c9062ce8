"""Long-term validity upkeep: a sealed document stays checkable after the time-stamp authority's certificate that
vouches for its time expires, because the clock adds a new document time-stamp (PAdES B-LTA) before then; and seal
certificates that expire soon are flagged to seal administrators. The upkeep page lists both.

The clock reads each sealed version's newest time-stamp once (`read_timestamps`), then renews the newest version of
each document whose time-stamp expires within RENEW_TIMESTAMPS_DAYS (`renew_due`). A renewal is the document's next
sealed version, the earlier bytes kept as they were (the new file starts with them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, select

from app import pki  # load_certificate on first use: it imports cryptography
from app.errors import PermissionDenied
from app.extensions import db
from app.models import AuditEvent, Document, DocumentKind, RoleName, Seal, SealStatus, User
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.pdf import PdfError
from app.services import documents, keys
from app.services.documents import pdf_errors

__all__ = ["ExpiringSeal", "Upkeep", "expiring_seals", "read_timestamps", "renew_due", "upkeep_overview"]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _newest_versions() -> Select[Document]:
    """The newest sealed version of each application's document."""
    newest = (select(Document.application_id, func.max(Document.version).label("version"))
              .where(Document.kind == DocumentKind.SEALED).group_by(Document.application_id).subquery())
    return (select(Document).join(newest, (newest.c.application_id == Document.application_id)
                                  & (newest.c.version == Document.version))
            .where(Document.kind == DocumentKind.SEALED))


def read_timestamps(now: datetime | None = None, batch: int = 20) -> int:
    """Read the newest time-stamp of sealed versions not read yet (at most `batch`); how many. The caller commits."""
    now = now or utcnow()
    unread = db.session.execute(select(Document).where(Document.kind == DocumentKind.SEALED,
                                                       Document.upkeep_checked_at.is_(None))
                                .order_by(Document.id).limit(batch)).scalars().all()
    for document in unread:
        from app.pdf import newest_timestamp

        try:
            newest = newest_timestamp(documents.read_content(document))
        except PdfError:
            newest = None  # nothing to renew in a file no reader can parse; verification says why
        document.timestamp_expires_at = _naive(newest.tsa_expires) if newest else None
        document.upkeep_checked_at = now
    return len(unread)


def _due(now: datetime) -> list[Document]:
    horizon = now + timedelta(days=current_app.config["RENEW_TIMESTAMPS_DAYS"])
    query = _newest_versions().where(Document.timestamp_expires_at.is_not(None),
                                     Document.timestamp_expires_at < horizon).order_by(Document.timestamp_expires_at)
    return list(db.session.execute(query).scalars())


def renew_due(actor: Actor, now: datetime | None = None, batch: int = 5) -> list[Document]:
    """Add a document time-stamp to the newest sealed versions whose time-stamp expires within the renewal window (at
    most `batch`), each becoming the document's next version; the new versions. The caller commits. Raises
    SigningFailed when the time-stamp authority does not answer (the next tick tries again)."""
    from app.pdf import LongTermSpec, add_archive_timestamp, newest_timestamp

    now = now or utcnow()
    renewed = []
    long_term = LongTermSpec(keys.trust_roots(), (keys.revocation_list(),))
    timestamper = keys.timestamper("B-T")
    assert timestamper is not None  # only B-B has none
    for document in _due(now)[:batch]:
        content = documents.read_content(document)
        with pdf_errors():
            stamped = add_archive_timestamp(content, timestamper, long_term)
            newest = newest_timestamp(stamped)
        version = documents.add_document(document.application_id, DocumentKind.SEALED, document.filename, stamped,
                                         document.page_count)  # no seal image: no seal was applied again
        version.upkeep_checked_at = now
        version.timestamp_expires_at = _naive(newest.tsa_expires) if newest else None
        record(actor, "document.timestamped", "seal_application", document.application_id,
               document_id=version.id, version=version.version, previous_sha256=document.sha256,
               sha256=version.sha256, previous_expiry=str(document.timestamp_expires_at),
               expires=str(version.timestamp_expires_at))
        renewed.append(version)
    return renewed


@dataclass(frozen=True)
class ExpiringSeal:
    seal: Seal
    expires: datetime


def expiring_seals(now: datetime | None = None) -> list[ExpiringSeal]:
    """Seals in use (not revoked) whose certificate expires within CERTIFICATE_WARNING_DAYS, soonest first."""
    now = now or utcnow()
    horizon = now + timedelta(days=current_app.config["CERTIFICATE_WARNING_DAYS"])
    found = []
    for seal in db.session.execute(select(Seal).where(Seal.status != SealStatus.REVOKED)).scalars():
        expires = _naive(pki.load_certificate(seal.certificate_pem).not_valid_after_utc)
        if expires < horizon:
            found.append(ExpiringSeal(seal, expires))
    return sorted(found, key=lambda e: e.expires)


@dataclass(frozen=True)
class Upkeep:
    """What the upkeep page shows: documents due for a new time-stamp, the latest renewals, expiring seal
    certificates, and how many sealed versions the clock has not read yet."""

    due: list[Document]
    renewals: list[AuditEvent]
    expiring: list[ExpiringSeal]
    unread: int
    renew_days: int
    warning_days: int


def upkeep_overview(reader: User, now: datetime | None = None) -> Upkeep:
    """The upkeep page, for seal administrators and auditors."""
    if not reader.role_names & {RoleName.SEAL_ADMIN, RoleName.AUDITOR}:
        raise PermissionDenied("only seal administrators and auditors see the long-term validity upkeep")
    now = now or utcnow()
    renewals = db.session.execute(select(AuditEvent).where(AuditEvent.action == "document.timestamped")
                                  .order_by(AuditEvent.id.desc()).limit(50)).scalars().all()
    unread = db.session.execute(select(func.count()).select_from(Document).where(
        Document.kind == DocumentKind.SEALED, Document.upkeep_checked_at.is_(None))).scalar_one()
    return Upkeep(_due(now), list(renewals), expiring_seals(now), unread, current_app.config["RENEW_TIMESTAMPS_DAYS"],
                  current_app.config["CERTIFICATE_WARNING_DAYS"])

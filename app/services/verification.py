"""Checking signed PDFs against the organisation's trust services, and the public facts behind a QR code."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.errors import NotFound
from app.extensions import db
from app.models import Document, DocumentKind, RevocationReason, Seal, SealApplication
from app.services import keys
from app.services.documents import pdf_errors, read_content
from app.services.sealing import verification_token

if TYPE_CHECKING:
    from app.pdf import VerificationReport


def verify_document(content: bytes) -> VerificationReport:
    """Every signature of the PDF, checked against the root CA and the current revocation list."""
    from app.pdf import verify_pdf

    trust = keys.verification_trust()
    with pdf_errors():
        return verify_pdf(content, trust.roots, (trust.crl,), trust.seal_names)


def crl_der() -> bytes:
    """The current certificate revocation list, DER, as relying parties fetch it."""
    from cryptography.hazmat.primitives import serialization

    return keys.revocation_list().public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class SealRevocation:
    """The seal's revocation, as anyone may learn it from the CRL, and what it means for the sealed document:
    `sealed_before` when the document's signatures with that seal verify as made before it (a trusted time-stamp
    says so, `proven_sealed_at`), exactly as `pdf verify` and /verify judge them."""

    revoked_at: datetime
    reason: RevocationReason | None
    sealed_before: bool
    proven_sealed_at: datetime | None


@dataclass(frozen=True)
class PublicFacts:
    """What anyone holding the paper (and its QR code) may learn: no reason, no requester."""

    application_id: int
    organisation: str
    seal_name: str
    status: str
    sealed_at: datetime | None
    sealed_sha256: str | None
    revocation: SealRevocation | None = None


def public_facts(application_id: int, token: str, organisation: str) -> PublicFacts:
    """The facts behind a verification QR code; an unknown id or a wrong token are the same 404."""
    application = db.session.get(SealApplication, application_id)
    if application is None or not hmac.compare_digest(token, verification_token(application_id)):
        raise NotFound("there is no such sealed document")
    sealed = application.document(DocumentKind.SEALED)
    revocation = _revocation(application.seal, sealed) if sealed is not None else None
    return PublicFacts(application.id, organisation, application.seal.name, application.status.value,
                       sealed.created_at if sealed else None, sealed.sha256 if sealed else None, revocation)


def _revocation(seal: Seal, sealed: Document) -> SealRevocation | None:
    """If the seal was revoked, when and why, and whether the sealed document was sealed before that."""
    if seal.revoked_at is None:
        return None
    serials = set(keys.certificate_serials(seal))
    report = verify_document(read_content(sealed))
    mine = [s for s in report.signatures if s.certificate_serial in serials]
    proven = min((s.trusted_time for s in mine if s.trusted_time is not None), default=None)
    return SealRevocation(seal.revoked_at, seal.revocation_reason, not any(s.revoked for s in mine), proven)

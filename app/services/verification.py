"""Checking signed PDFs against the organisation's trust services, and the public facts behind a QR code."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization

from app.errors import NotFound
from app.extensions import db
from app.models import DocumentKind, SealApplication
from app.pdf import VerificationReport, verify_pdf
from app.services import keys
from app.services.documents import pdf_errors
from app.services.sealing import verification_token


def verify_document(content: bytes) -> VerificationReport:
    """Every signature of the PDF, checked against the root CA and the current revocation list."""
    with pdf_errors():
        return verify_pdf(content, keys.trust_roots(), (keys.revocation_list(),), keys.seal_names())


def crl_der() -> bytes:
    """The current certificate revocation list, DER, as relying parties fetch it."""
    return keys.revocation_list().public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class PublicFacts:
    """What anyone holding the paper (and its QR code) may learn: no reason, no requester."""

    application_id: int
    organisation: str
    seal_name: str
    status: str
    sealed_at: datetime | None
    sealed_sha256: str | None


def public_facts(application_id: int, token: str, organisation: str) -> PublicFacts:
    """The facts behind a verification QR code; an unknown id or a wrong token are the same 404."""
    application = db.session.get(SealApplication, application_id)
    if application is None or not hmac.compare_digest(token, verification_token(application_id)):
        raise NotFound("there is no such sealed document")
    sealed = application.document(DocumentKind.SEALED)
    return PublicFacts(application.id, organisation, application.seal.name, application.status.value,
                       sealed.created_at if sealed else None, sealed.sha256 if sealed else None)

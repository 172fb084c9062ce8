"""Applying a seal to an approved application's document: stamp, then sign. Runs in a worker."""

from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import PurePath
from typing import Any

import pikepdf
from flask import current_app

from app.errors import InvalidDocument, InvalidInput, NotFound, SigningFailed
from app.extensions import db
from app.models import DocumentKind, SealApplication
from app.models.timestamps import utcnow
from app.pdf import (
    KeywordSpec,
    PdfError,
    QrSpec,
    RidingSpec,
    SigningError,
    SignSpec,
    StampPlan,
    StampSpec,
    TimeStampError,
    WatermarkSpec,
    appearance_aspect,
    locate,
    sign_pdf,
    stamp,
)
from app.services import documents, keys, seals
from app.services.audit import Actor, record

SEAL_SIZE_MM = 40.0
# Without a keyword, the seal sits bottom-right on its page, as a reader sees it.
SEAL_X_MM, SEAL_Y_MM = 25.0, 30.0


def seal_placement(page: int, keyword: str | None) -> StampSpec | KeywordSpec:
    """Where the signing seal goes: centred on the last occurrence of the keyword, or on the page."""
    if keyword:
        return KeywordSpec(keyword, size_mm=SEAL_SIZE_MM, occurrence="last")
    return StampSpec(page=page, x_mm=SEAL_X_MM, y_mm=SEAL_Y_MM, size_mm=SEAL_SIZE_MM)


def check_placement(content: bytes, page: int, keyword: str | None, page_count: int) -> None:
    """Refuse at filing time a page or keyword the worker could not place the seal on."""
    if not keyword and not (1 <= page <= page_count or -page_count <= page <= -1):
        raise InvalidInput(f"page {page} does not exist; the document has {page_count} pages")
    if keyword:
        try:
            with pikepdf.open(io.BytesIO(content)) as pdf:
                locate(content, pdf, seal_placement(page, keyword))
        except PdfError as exc:
            raise InvalidDocument(str(exc)) from exc


def verification_token(application_id: int) -> str:
    """An unguessable token for an application's public verification page (printed as a QR code)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"verify:{application_id}".encode(), hashlib.sha256).hexdigest()[:24]


def verification_url(application_id: int) -> str:
    return f"{current_app.config['PUBLIC_URL']}/verify/{application_id}/{verification_token(application_id)}"


def stamp_plan(application: SealApplication, seal_pdf: bytes, page_count: int) -> StampPlan:
    """What is drawn before signing: riding seal and watermark when asked, and always the QR code."""
    watermark = None
    if application.watermark:
        text = f"机密 CONFIDENTIAL · {application.requester.display_name} · {utcnow():%Y-%m-%d}"
        watermark = WatermarkSpec(text)
    return StampPlan(
        seal_pdf=seal_pdf,
        riding=RidingSpec(size_mm=SEAL_SIZE_MM) if application.riding_seal and page_count > 1 else None,
        watermark=watermark,
        qr=QrSpec(verification_url(application.id), caption=f"#{application.id}"),
    )


def _seal_and_sign(application: SealApplication, content: bytes, page_count: int) -> bytes:
    seal = seals.usable_seal(application.seal_id)
    stamped = stamp(content, stamp_plan(application, seal.image_pdf, page_count),
                    current_app.config["MAX_PDF_PAGES"])
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        placement = locate(stamped, pdf, seal_placement(application.seal_page, application.seal_keyword),
                           appearance_aspect(seal.image_pdf))[0]
    spec = SignSpec(
        field_name=f"SealFlow_{application.id}_{seal.id}", page_index=placement.page_index, box=placement.rect,
        reason=f"Seal application #{application.id}", location=current_app.config["ORGANISATION_NAME"],
        appearance_pdf=seal.image_pdf, certify=current_app.config["CERTIFY"],
    )
    with keys.signer_for(seal) as signer:
        return sign_pdf(stamped, signer, spec, timestamper=keys.timestamper(), long_term=keys.long_term())


def seal_document(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `seal_document`: produce the sealed PDF once, however often it is called."""
    application = db.session.get(SealApplication, int(params["application_id"]))
    if application is None:
        raise NotFound(f"application {params['application_id']} does not exist")
    done = application.document(DocumentKind.SEALED)
    if done is not None:
        return {"document_id": done.id, "sha256": done.sha256}
    original = application.document(DocumentKind.ORIGINAL)
    if original is None:
        raise NotFound(f"application {application.id} has no document")
    try:
        signed = _seal_and_sign(application, documents.read_content(original), original.page_count)
    except (SigningError, TimeStampError) as exc:
        raise SigningFailed(str(exc)) from exc
    except PdfError as exc:
        raise InvalidDocument(str(exc)) from exc
    filename = f"{PurePath(original.filename).stem}-sealed.pdf"
    sealed = documents.add_document(application.id, DocumentKind.SEALED, filename, signed, original.page_count)
    record(actor, "document.sealed", "seal_application", application.id, document_id=sealed.id,
           sha256=sealed.sha256, seal_id=application.seal_id, original_sha256=original.sha256,
           level=current_app.config["SIGNATURE_LEVEL"])
    return {"document_id": sealed.id, "sha256": sealed.sha256}

"""Applying a seal to an approved application's document: stamp, then sign. Runs in a worker."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import PurePath
from typing import Any

import pikepdf
from flask import current_app

from app.errors import InvalidDocument, NotFound, SigningFailed
from app.models import DocumentKind
from app.pdf import PdfError, SigningError, SignSpec, StampSpec, make_signer, placement_rect, sign_pdf, stamp_seal
from app.services import applications, documents, keys, seals
from app.services.audit import Actor, record

# Bottom-right of the last page, as a reader sees it; the signature caption sits just below.
SEAL_PLACEMENT = StampSpec(page=-1, x_mm=25, y_mm=30, size_mm=40, corner="bottom-right")
CAPTION_HEIGHT_MM = 10.0


def seal_document(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `seal_document`: produce the sealed PDF once, however often it is called."""
    application = applications.get_application(int(params["application_id"]))
    done = application.document(DocumentKind.SEALED)
    if done is not None:
        return {"document_id": done.id, "sha256": done.sha256}
    original = application.document(DocumentKind.ORIGINAL)
    if original is None:
        raise NotFound(f"application {application.id} has no document")
    seal = seals.usable_seal(application.seal_id)
    content = documents.read_content(original)
    max_pages = current_app.config["MAX_PDF_PAGES"]
    try:
        stamped = stamp_seal(content, seal.image_pdf, SEAL_PLACEMENT, max_pages)
        with pikepdf.open(io.BytesIO(stamped)) as pdf:
            caption = replace(SEAL_PLACEMENT, y_mm=SEAL_PLACEMENT.y_mm - CAPTION_HEIGHT_MM - 1)
            box = placement_rect(pdf, caption, CAPTION_HEIGHT_MM)
        spec = SignSpec(
            field_name=f"SealFlow_{application.id}_{seal.id}", page_index=box.page_index, box=box.rect,
            reason=f"Seal application #{application.id}", location=current_app.config["ORGANISATION_NAME"],
        )
        signed = sign_pdf(stamped, make_signer(keys.signing_identity(seal)), spec)
    except SigningError as exc:
        raise SigningFailed(str(exc)) from exc
    except PdfError as exc:
        raise InvalidDocument(str(exc)) from exc
    filename = f"{PurePath(original.filename).stem}-sealed.pdf"
    sealed = documents.add_document(application.id, DocumentKind.SEALED, filename, signed, original.page_count)
    record(actor, "document.sealed", "seal_application", application.id, document_id=sealed.id,
           sha256=sealed.sha256, seal_id=seal.id, original_sha256=original.sha256)
    return {"document_id": sealed.id, "sha256": sealed.sha256}

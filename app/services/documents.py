"""Document content, stored once per SHA-256 in the database so every machine can read it."""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import select

from app.errors import InvalidDocument
from app.extensions import db
from app.models import Blob, Document, DocumentKind
from app.pdf import PdfError, PdfInfo, inspect_pdf


def store_blob(content: bytes) -> Blob:
    """The blob for this content, stored if new."""
    digest = hashlib.sha256(content).hexdigest()
    blob = db.session.get(Blob, digest)
    if blob is None:
        blob = Blob(sha256=digest, size=len(content), content=content)
        db.session.add(blob)
        db.session.flush()
    return blob


def read_content(document: Document) -> bytes:
    """The document's bytes."""
    content = db.session.execute(select(Blob.content).where(Blob.sha256 == document.sha256)).scalar_one()
    return bytes(content)


def check_pdf(content: bytes) -> PdfInfo:
    """Validate an uploaded PDF: its page count and whether it had to be repaired, or InvalidDocument."""
    try:
        info = inspect_pdf(content, current_app.config["MAX_PDF_PAGES"])
    except PdfError as exc:
        raise InvalidDocument(str(exc)) from exc
    if info.signature_count:
        raise InvalidDocument("the PDF is already signed; sealing it would invalidate those signatures")
    return info


def add_document(application_id: int, kind: DocumentKind, filename: str, content: bytes, pages: int) -> Document:
    """Record a version of an application's document; versions are never overwritten."""
    blob = store_blob(content)
    document = Document(application_id=application_id, kind=kind, filename=filename, sha256=blob.sha256,
                        page_count=pages)
    db.session.add(document)
    db.session.flush()
    return document

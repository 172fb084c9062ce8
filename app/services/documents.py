"""Document content, stored once per SHA-256 in the database so every machine can read it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypedDict

from flask import current_app
from sqlalchemy import func, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import InvalidDocument, InvalidInput, SigningFailed
from app.extensions import db
from app.models import Blob, Document, DocumentKind, SealApplication
from app.pdf import PdfError, SealImageError
from app.pki import PkiError

if TYPE_CHECKING:
    from app.pdf import ContentCheck, PdfInfo


@contextmanager
def pdf_errors() -> Iterator[None]:
    """The one place where the PDF and PKI libraries' errors become domain errors: a key, token or time-stamp
    authority that failed may work on a later try (SigningFailed); a seal image that cannot be drawn is a wrong
    input; anything else about a PDF is a document SealFlow cannot accept."""
    try:
        yield
    except PkiError as exc:
        raise SigningFailed(str(exc)) from exc
    except SealImageError as exc:
        raise InvalidInput(str(exc)) from exc
    except PdfError as exc:
        raise InvalidDocument(str(exc)) from exc


class PdfLimits(TypedDict):
    """The configured bounds of app.pdf's readers, as keyword arguments: `stamp(data, plan, **pdf_limits())`."""

    max_pages: int
    max_decoded: int


def pdf_limits() -> PdfLimits:
    """Pages a PDF may have, and bytes one page may decode to (SEALFLOW_MAX_PDF_PAGES, _MAX_PAGE_DECODED_MB)."""
    return PdfLimits(max_pages=current_app.config["MAX_PDF_PAGES"],
                     max_decoded=current_app.config["MAX_PAGE_DECODED_MB"] * 2**20)


def store_blob(content: bytes, check: ContentCheck | None = None) -> str:
    """Store the content unless it is stored already; its SHA-256 (hexadecimal), by which it is read. With `check`
    (what app.pdf's inspection said of these very bytes), the content is marked as having passed it."""
    digest = hashlib.sha256(content).hexdigest()
    insert = sqlite_insert if db.session.get_bind().dialect.name == "sqlite" else postgresql_insert
    if check is None:
        # One statement whether or not the content is new (two writers of the same content both succeed).
        db.session.execute(insert(Blob).values(sha256=digest, size=len(content), content=content)
                           .on_conflict_do_nothing(index_elements=[Blob.sha256]))
        return digest
    if check.sha256 != digest:
        raise ValueError("a content check is kept only beside the bytes it was made on")
    mark = {"checked_max_decoded": check.max_decoded, "check_version": check.version}
    db.session.execute(insert(Blob).values(sha256=digest, size=len(content), content=content, **mark)
                       .on_conflict_do_update(index_elements=[Blob.sha256], set_=mark))
    return digest


def read_content(document: Document) -> bytes:
    """The document's bytes."""
    content = db.session.execute(select(Blob.content).where(Blob.sha256 == document.sha256)).scalar_one()
    return bytes(content)


def read_checked(document: Document) -> tuple[bytes, ContentCheck | None]:
    """The document's bytes, and the check they passed at upload if any (for app.pdf's `stamp`: it skips walking
    content that passed at the limit it is given, under its current rules)."""
    from app.pdf import ContentCheck

    row = db.session.execute(select(Blob.content, Blob.checked_max_decoded, Blob.check_version)
                             .where(Blob.sha256 == document.sha256)).one()
    check = None
    if row.checked_max_decoded is not None and row.check_version is not None:
        check = ContentCheck(document.sha256, row.checked_max_decoded, row.check_version)
    return bytes(row.content), check


def check_pdf(content: bytes) -> PdfInfo:
    """Validate an uploaded PDF: its page count and whether it had to be repaired, or InvalidDocument."""
    from app.pdf import inspect_pdf

    with pdf_errors():
        info = inspect_pdf(content, **pdf_limits())
    if info.signature_count:
        raise InvalidDocument("the PDF is already signed; sealing it would invalidate those signatures")
    return info


def add_document(application_id: int, kind: DocumentKind, filename: str, content: bytes, pages: int,
                 seal_image_id: int | None = None, check: ContentCheck | None = None) -> Document:
    """Record the next version of an application's document of that kind (a sealed one with the seal image version
    it was sealed with; an upload with the check `check_pdf` made of it); versions are never overwritten (two
    writers of the same version collide on the unique key instead)."""
    sha256 = store_blob(content, check)
    application = db.session.get(SealApplication, application_id)
    held = application is not None and "documents" not in inspect(application).unloaded
    if application is not None and held:
        # Its documents as this transaction read them (a sealing job's): a version written since by another
        # collides on the unique key, as it would after the query below.
        latest = max((d.version for d in application.documents if d.kind == kind), default=None)
    else:
        latest = db.session.execute(
            select(func.max(Document.version)).where(Document.application_id == application_id, Document.kind == kind)
        ).scalar()
    document = Document(application_id=application_id, kind=kind, filename=filename, sha256=sha256,
                        page_count=pages, version=(latest or 0) + 1, seal_image_id=seal_image_id)
    db.session.add(document)
    db.session.flush()
    if application is not None and held:  # so that application.document(kind) sees this version, without a query
        set_committed_value(application, "documents", [*application.documents, document])
    elif application is not None:
        db.session.expire(application, ["documents"])
    return document

"""Documents: content stored once by SHA-256 in the database, versions never overwritten."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import Model, db
from app.models.timestamps import utcnow


class Blob(Model):
    """Immutable content, addressed by its SHA-256; every web process and worker can read it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The content passed app.pdf's check_document on every page, at this per-page decoded limit and under these
    # rules (app.pdf's ContentCheck, written only after such a pass, at upload): stamping it in another process then
    # skips the walk. None: not checked so (sealed output, letters, content stored before the mark existed).
    checked_max_decoded: Mapped[int | None] = mapped_column(BigInteger)
    check_version: Mapped[int | None]


class DocumentKind(enum.StrEnum):
    ORIGINAL = "original"
    SEALED = "sealed"


class Document(Model):
    __tablename__ = "documents"
    # Versions are never overwritten: each party's signature adds the next version of the sealed document.
    __table_args__ = (
        db.UniqueConstraint("application_id", "kind", "version", name="uq_documents_application_kind_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("seal_applications.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(Enum(DocumentKind, native_enum=False, length=16))
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    page_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sealed version: the seal image version it was stamped and signed with (None for documents sealed before
    # image versions were recorded, and for originals).
    seal_image_id: Mapped[int | None] = mapped_column(ForeignKey("seal_images.id"), index=True)
    # Long-term validity upkeep (app/services/upkeep.py): when the clock last read this version's newest time-stamp,
    # and until when that time-stamp's authority certificate lets it be checked (None: it carries none).
    upkeep_checked_at: Mapped[datetime | None]
    timestamp_expires_at: Mapped[datetime | None]

    blob: Mapped[Blob] = relationship()

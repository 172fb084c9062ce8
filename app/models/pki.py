"""The organisation's trust services (one row): the root certificate authority and the time-stamp authority."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.timestamps import utcnow


class CertificateAuthority(Model):
    __tablename__ = "certificate_authorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    # PKCS#8, encrypted with a key derived from KEY_SECRET; never stored in plain text.
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The built-in RFC 3161 time-stamp authority's certificate (issued by this CA) and encrypted key.
    tsa_certificate_pem: Mapped[str | None] = mapped_column(Text)
    tsa_encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The organisation's system seal (issued by this CA): SealFlow's own documents (certificates of completion) are
    # signed with it, never an application's document.
    system_certificate_pem: Mapped[str | None] = mapped_column(Text)
    system_encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

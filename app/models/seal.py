"""The seal registry: company, contract, finance, legal-representative and personal seals."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.timestamps import utcnow
from app.models.user import Department, User


class SealKind(enum.StrEnum):
    COMPANY = "company"
    CONTRACT = "contract"
    FINANCE = "finance"
    LEGAL_REPRESENTATIVE = "legal_representative"
    PERSONAL = "personal"


class RevocationReason(enum.StrEnum):
    """Why a seal was revoked; the values are RFC 5280's CRLReason names, as the CRL carries them."""

    KEY_COMPROMISE = "keyCompromise"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"


# What seals.revocation_note holds.
REVOCATION_NOTE_LIMIT = 500


class SealStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Seal(Model):
    __tablename__ = "seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[SealKind] = mapped_column(Enum(SealKind, native_enum=False, length=32))
    status: Mapped[SealStatus] = mapped_column(
        Enum(SealStatus, native_enum=False, length=16), default=SealStatus.ACTIVE
    )
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The seal image as a one-page vector PDF, and an SVG preview for the web pages.
    image_pdf: Mapped[bytes] = mapped_column(LargeBinary)
    image_svg: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str] = mapped_column(Text)
    # The private key: encrypted in the database, or (token_key_label) inside the configured PKCS#11 token.
    encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_key_label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When and why the seal was revoked: its certificate is then listed in the organisation's CRL with both.
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[RevocationReason | None] = mapped_column(
        Enum(RevocationReason, native_enum=False, length=32)
    )
    revocation_note: Mapped[str | None] = mapped_column(String(REVOCATION_NOTE_LIMIT))

    owner_department: Mapped[Department | None] = relationship()
    owner_user: Mapped[User | None] = relationship()

    @property
    def is_usable(self) -> bool:
        """Only an active seal may be requested or applied."""
        return self.status == SealStatus.ACTIVE

"""The seal registry: company, contract, finance, legal-representative and personal seals."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Enum, ForeignKey, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db
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
# What seal_images.note holds.
IMAGE_NOTE_LIMIT = 200


class SealStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


# Custodians keep a seal (its status, image and key) and may sign with it as a party; users may request it,
# named one by one or by department.
seal_custodians = Table(
    "seal_custodians", db.metadata,
    Column("seal_id", ForeignKey("seals.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)
seal_user_people = Table(
    "seal_user_people", db.metadata,
    Column("seal_id", ForeignKey("seals.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)
seal_user_departments = Table(
    "seal_user_departments", db.metadata,
    Column("seal_id", ForeignKey("seals.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


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
    # The image version stamping uses now (SealImage.version); earlier versions are kept.
    image_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The current certificate; the ones it replaced are FormerCertificate rows.
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
    custodians: Mapped[list[User]] = relationship(secondary=seal_custodians, order_by="User.display_name")
    user_people: Mapped[list[User]] = relationship(secondary=seal_user_people, order_by="User.display_name")
    user_departments: Mapped[list[Department]] = relationship(secondary=seal_user_departments,
                                                              order_by="Department.name")
    former_certificates: Mapped[list[FormerCertificate]] = relationship(
        order_by="FormerCertificate.id.desc()", cascade="all, delete-orphan")
    current_image: Mapped[SealImage] = relationship(
        primaryjoin="and_(SealImage.seal_id == Seal.id, SealImage.version == Seal.image_version)",
        viewonly=True, uselist=False, lazy="select")

    @property
    def image_pdf(self) -> bytes:
        """The current image as a one-page vector PDF."""
        return self.current_image.image_pdf

    @property
    def is_usable(self) -> bool:
        """Only an active seal may be requested or applied."""
        return self.status == SealStatus.ACTIVE

    def may_be_requested_by(self, user: User) -> bool:
        """Whether the user may file applications for this seal: named as a user, or in a department that is; a
        personal or legal-representative seal's owner always may."""
        return (user.id == self.owner_user_id or any(u.id == user.id for u in self.user_people)
                or (user.department_id is not None and any(d.id == user.department_id for d in self.user_departments)))

    def is_held_by(self, user_id: int) -> bool:
        """Whether the user holds the seal: its owner or one of its custodians (only they sign with it)."""
        return user_id == self.owner_user_id or any(u.id == user_id for u in self.custodians)


class SealImage(Model):
    """One version of a seal's image. A new image is a new version; a sealed document records the version it was
    sealed with (Document.seal_image_id), and every version stays viewable."""

    __tablename__ = "seal_images"
    __table_args__ = (UniqueConstraint("seal_id", "version", name="uq_seal_images_seal_id_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    # A one-page vector PDF, and the SVG SealFlow drew it from (empty for an upload).
    image_pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    image_svg: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # "drawn" (from text, by SealFlow) or "uploaded" (a PNG, SVG or PDF a seal administrator gave).
    source: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(IMAGE_NOTE_LIMIT))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class FormerCertificate(Model):
    """A certificate a seal had before its certificate was renewed (or its key moved into a token): kept so that
    signatures made with it still name the seal, and listed in the CRL with the seal if the seal is revoked. Its
    private key is gone."""

    __tablename__ = "seal_former_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id", ondelete="CASCADE"), index=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    # Hexadecimal, as certificate viewers show it (up to 20 bytes: too large for an integer column).
    serial_number: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "renewed" or "moved_to_token".
    replaced_because: Mapped[str] = mapped_column(String(32))

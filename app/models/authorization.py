"""Signature authorizations (签字授权): a leader's standing permission for their signature to be applied, after the
policy's approvals, to applications within a scope, for a number of uses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.seal import Seal
from app.models.timestamps import utcnow
from app.models.user import User


class SignatureAuthorization(Model):
    __tablename__ = "signature_authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    # The leader who granted it: the seal's owner when granted.
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The scope; an empty list covers every process, document type or department.
    process_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    document_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    amount_ceiling: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    uses_granted: Mapped[int]
    # Decremented by one conditional UPDATE per use, so that racing sealing jobs never use more than were granted.
    uses_left: Mapped[int]
    # The authorization letter (授权书), a PDF signed with the seal, stored as a blob.
    letter_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    seal: Mapped[Seal] = relationship()
    leader: Mapped[User] = relationship()

    def scope(self) -> dict[str, Any]:
        """The scope as plain data (the audit log and the letter say the same)."""
        return {"process_ids": list(self.process_ids), "document_types": list(self.document_types),
                "department_ids": list(self.department_ids),
                "amount_ceiling": None if self.amount_ceiling is None else str(self.amount_ceiling),
                "valid_from": self.valid_from.isoformat(), "valid_until": self.valid_until.isoformat(),
                "uses": self.uses_granted}


class AuthorizationUse(Model):
    """One application signed under an authorization; an application uses an authorization once."""

    __tablename__ = "authorization_uses"
    __table_args__ = (UniqueConstraint("authorization_id", "application_id",
                                       name="uq_authorization_uses_authorization_application"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("signature_authorizations.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("seal_applications.id"), index=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)

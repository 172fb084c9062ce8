"""The seal application (用印申请): one request to use a seal on a document."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.errors import InvalidTransition
from app.extensions import Model
from app.models.document import Document, DocumentKind
from app.models.seal import Seal
from app.models.timestamps import utcnow
from app.models.user import User


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    RETURNED = "returned"  # sent back to the requester for revision
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    SEALING = "sealing"
    SEALED = "sealed"
    FAILED = "failed"


_ALLOWED = {
    ApplicationStatus.PENDING: {ApplicationStatus.REJECTED, ApplicationStatus.SEALING, ApplicationStatus.RETURNED,
                                ApplicationStatus.WITHDRAWN, ApplicationStatus.FAILED},
    ApplicationStatus.RETURNED: {ApplicationStatus.PENDING, ApplicationStatus.WITHDRAWN, ApplicationStatus.REJECTED},
    # Back to pending when a later step waits for a person (the next party to sign, an error handler).
    ApplicationStatus.SEALING: {ApplicationStatus.SEALED, ApplicationStatus.FAILED, ApplicationStatus.PENDING},
    ApplicationStatus.FAILED: {ApplicationStatus.SEALING},
}


class SealApplication(Model):
    __tablename__ = "seal_applications"
    # A filing form's token files one application however often it is sent.
    __table_args__ = (UniqueConstraint("requester_id", "submission_token",
                                       name="uq_seal_applications_requester_submission"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    document_type: Mapped[str] = mapped_column(String(32))
    # What the archive and the usage ledger (用印登记台账) file it under: the document's title, the other side
    # (empty for an internal document) and how many copies are stamped.
    title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    counterparty: Mapped[str] = mapped_column(String(200), default="", server_default="", index=True)
    copies: Mapped[int] = mapped_column(default=1, server_default="1")
    # The contract or payment amount the document commits to (the approval policy reads it), if any.
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    # The approval process that runs the application (a deployed process id).
    process_id: Mapped[str] = mapped_column(String(200), default="seal_application",
                                            server_default="seal_application")
    reason: Mapped[str] = mapped_column(Text)
    # Where and how the seal goes: a page (1-based, negative from the end) or the text it is centred on,
    # plus a riding seal across the page edges and a confidentiality watermark.
    seal_page: Mapped[int] = mapped_column(default=-1)
    seal_keyword: Mapped[str | None] = mapped_column(String(100))
    riding_seal: Mapped[bool] = mapped_column(default=False)
    watermark: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ApplicationStatus] = mapped_column(
        Enum(ApplicationStatus, native_enum=False, length=16), default=ApplicationStatus.PENDING
    )
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # What the seal policy required when the application was filed: one entry per approval level, in order,
    # {"level": 1, "approver": "department_head" | "role:<role>" | "user:<username>", "label": "…"}, and the
    # policy's content hash. The sealing gate checks the recorded decisions against these, whatever process ran.
    required_approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    policy_hash: Mapped[str | None] = mapped_column(String(64))
    submission_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    requester: Mapped[User] = relationship()
    seal: Mapped[Seal] = relationship()
    documents: Mapped[list[Document]] = relationship(order_by="Document.id")

    def move_to(self, status: ApplicationStatus) -> None:
        """Change status, refusing a transition the life cycle does not allow."""
        if status not in _ALLOWED.get(self.status, set()):
            raise InvalidTransition(f"application {self.id} is {self.status}, it cannot become {status}")
        self.status = status

    def required_approval(self, level: int) -> dict[str, Any] | None:
        """The policy's requirement for that approval level, if the application has one."""
        return next((r for r in self.required_approvals if r.get("level") == level), None)

    def document(self, kind: DocumentKind) -> Document | None:
        """The newest version of the document of that kind, if there is one."""
        return max((d for d in self.documents if d.kind == kind), key=lambda d: d.version, default=None)

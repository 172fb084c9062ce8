"""Versions of the seal policies' decision tables (DMN): what filing asks and diagrams' business-rule tasks call.
The newest version of each file is the one in force; earlier ones stay for the record and for rollback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import Model
from app.models.timestamps import utcnow
from app.models.user import User


class PolicyVersion(Model):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_policy_versions_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The file name in seal_policies/ (required_approvals.dmn), and the decision it holds.
    name: Mapped[str] = mapped_column(String(200), index=True)
    decision_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    content: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    content_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployed_by: Mapped[User | None] = relationship(foreign_keys=[deployed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

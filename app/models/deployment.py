"""Dual control of what decides approvals: a diagram (or decision table) a seal administrator wants deployed waits
here until a second seal administrator approves it, through the shipped deployment_approval process."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import Model
from app.models.timestamps import utcnow
from app.models.user import User


class DeploymentKind(enum.StrEnum):
    PROCESS = "process"  # a BPMN diagram
    POLICY = "policy"  # a DMN decision table in seal_policies/


class DeploymentStatus(enum.StrEnum):
    PENDING = "pending"  # waits for a second seal administrator
    DEPLOYED = "deployed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"  # approved, but no longer deployable when its turn came (the reason says why)


class DeploymentRequest(Model):
    __tablename__ = "deployment_requests"
    __table_args__ = (
        Index("ix_deployment_requests_subject_status", "kind", "subject", "status"),
        # One request per subject waits at a time, even when two are asked for at the same instant.
        Index("uq_deployment_requests_one_pending", "kind", "subject", unique=True,
              sqlite_where=text("status = 'PENDING'"), postgresql_where=text("status = 'PENDING'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DeploymentKind] = mapped_column(Enum(DeploymentKind, native_enum=False, length=16))
    # The process id (a diagram) or the file name (a decision table) it changes.
    subject: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    source_name: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    content_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    # The newest version of the subject when it was asked for (the one a reviewer compares it with; none for a new
    # one), and the version it became.
    base_version: Mapped[int | None]
    deployed_version: Mapped[int | None]
    status: Mapped[DeploymentStatus] = mapped_column(
        Enum(DeploymentStatus, native_enum=False, length=16), default=DeploymentStatus.PENDING, index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    # The reviewer's comment, or why it failed.
    outcome: Mapped[str | None] = mapped_column(Text)
    # The approval process.
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), unique=True)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

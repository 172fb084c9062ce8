"""Persistence of the workflow engine: definitions, instances and the inbox of human tasks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import Model
from app.models.timestamps import utcnow
from app.models.user import RoleName, User


class ProcessDefinition(Model):
    """One deployed version of a BPMN process; its parsed spec is stored once, here."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_definitions_process_version"),
        # Not unique: deploying an earlier version's diagram again makes it the newest (a rollback).
        Index("ix_process_definitions_process_hash", "process_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = deferred(mapped_column(Text))
    spec_json: Mapped[dict[str, Any]] = deferred(mapped_column(JSON))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why it was deployed, who asked and which second seal administrator approved (none for the CLI's deploys).
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    deployed_by: Mapped[User | None] = relationship(foreign_keys=[deployed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ProcessInstance(Model):
    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("seal_applications.id"), unique=True)
    # Who started it (the process data's requester_id): nobody decides a step of their own process.
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[InstanceStatus] = mapped_column(
        Enum(InstanceStatus, native_enum=False, length=16), default=InstanceStatus.RUNNING
    )
    # The end event the process finished at (its BPMN id), or why it stopped.
    outcome: Mapped[str | None] = mapped_column(String(200))
    # SpiffWorkflow's serialization without the spec (that lives on the definition).
    state: Mapped[dict[str, Any]] = deferred(mapped_column(JSON))
    # Counts the steps taken on it: a step runs the process (and its expressions) without holding a lock, then
    # takes the row only if no other step came first (app/workflow/store.claim).
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    definition: Mapped[ProcessDefinition] = relationship()


class TaskState(enum.StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTask(Model):
    """A ready user task, as an inbox row: for one assignee or anyone holding a candidate role."""

    __tablename__ = "human_tasks"
    __table_args__ = (UniqueConstraint("instance_id", "task_guid", name="uq_human_tasks_instance_task"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The user the task was meant for, when it reached their substitute instead (history shows both).
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[TaskState] = mapped_column(
        Enum(TaskState, native_enum=False, length=16), default=TaskState.READY, index=True
    )
    # The decisions the diagram offers on this task (its `decisions` property), comma-separated.
    decisions: Mapped[str] = mapped_column(String(200), default="approve,reject", server_default="approve,reject")
    decision: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    # The policy's approval level this task decides (the policy step), if it is one.
    level: Mapped[int | None]
    # What the decision was made on and as what: the SHA-256 of the application's document at that moment, and
    # the approval rule the decider met then ("department_head", "role:leader" …); the sealing gate reads both.
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    decided_as: Mapped[str | None] = mapped_column(String(200))

    instance: Mapped[ProcessInstance] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    # Read when asked for: a task with an assignee never needs them, and a decision's path loads several tasks.
    candidates: Mapped[list[TaskCandidate]] = relationship(cascade="all, delete-orphan")

    def offered_to(self, user_id: int, roles: set[RoleName]) -> bool:
        """Whether the task is for this user: assigned to them, or unassigned and offered to them or their roles."""
        if self.assignee_id is not None:
            return self.assignee_id == user_id
        return any(c.user_id == user_id or c.role in roles for c in self.candidates)

    @property
    def deciders(self) -> set[int]:
        """Who took part in its decision: whoever made it, and the absent user they made it for."""
        return {u for u in (self.completed_by_id, self.on_behalf_of_id) if u is not None}

    @property
    def decision_choices(self) -> list[str]:
        """The decisions a user may take on this task."""
        return [d.strip() for d in self.decisions.split(",") if d.strip()]

    @property
    def audience(self) -> str:
        """Who the task is for, as one line: the assignee, or the candidate users and roles."""
        if self.assignee is not None:
            return self.assignee.display_name
        return ", ".join(c.user.display_name if c.user else str(c.role) for c in self.candidates)


# The requester's own decisions on a returned application; resubmitting starts a new round of approvals.
REQUESTER_DECISIONS = frozenset({"resubmit", "withdraw"})
RESTARTING_DECISIONS = frozenset({"resubmit"})


def current_round(tasks: list[HumanTask]) -> list[HumanTask]:
    """Of an application's inbox rows, those opened since it was last resubmitted: decisions made before it was
    returned no longer count."""
    resubmitted = [t.id for t in tasks if t.decision in RESTARTING_DECISIONS]
    return [t for t in tasks if not resubmitted or t.id > max(resubmitted)]


class TaskCandidate(Model):
    """Someone an unassigned task is offered to: a user, or everyone holding a role (first to act takes it)."""

    __tablename__ = "task_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[RoleName | None] = mapped_column(Enum(RoleName, native_enum=False, length=32), index=True)

    user: Mapped[User | None] = relationship()


class ProcessTimer(Model):
    """A timer event a process waits on, with its due time; a scheduled job fires the due ones."""

    __tablename__ = "process_timers"
    __table_args__ = (UniqueConstraint("instance_id", "task_guid", name="uq_process_timers_instance_task"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(index=True)
    fired_at: Mapped[datetime | None]
    # Set when the process moved on without it (the task it guarded was completed first).
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

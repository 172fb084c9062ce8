"""An application's process history on its diagram: the version it ran, the path it took (elements done and how
often, flows taken, what it waits on), each event tied to its element, and the path after each event for a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, ProcessDefinition, ProcessInstance, SealApplication, User
from app.models.audit import events_for
from app.services import applications
from app.workflow.path import Moment, path_of

__all__ = ["ApplicationPath", "ReplayStep", "application_path"]


@dataclass(frozen=True)
class ReplayStep:
    """One event of the history, the data it set, and the path and the process data right after it."""

    event: AuditEvent
    element_id: str | None
    moment: Moment
    changed: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True)
class ApplicationPath:
    """What the diagram history shows: the version's diagram, the path now, the events (oldest first) each with the
    path after it."""

    application: SealApplication
    definition: ProcessDefinition
    now: Moment
    steps: list[ReplayStep]


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def _events(application: SealApplication, instance: ProcessInstance) -> list[AuditEvent]:
    """The application's own events and its process's, oldest first."""
    events = events_for("seal_application", application.id) + events_for("process_instance", instance.id)
    return sorted(events, key=lambda e: (e.at, e.id))


# Where an event says what the process data became: a decision's form, a policy table's result, a background job's
# answer. The filing event carries the data the process started with, beside facts about the file.
_DATA_OF = {"task.completed": "data", "decision.evaluated": "result", "service.completed": "result"}
_FILE_FACTS = ("filename", "sha256", "pages", "repaired")


def _changed(event: AuditEvent) -> dict[str, Any]:
    if event.action == "application.submitted":
        return {key: value for key, value in event.details.items() if key not in _FILE_FACTS}
    value = event.details.get(_DATA_OF.get(event.action, ""))
    return dict(value) if isinstance(value, dict) else {}


def application_path(application_id: int, user: User) -> ApplicationPath:
    """The diagram history of an application the user may see (NotFound otherwise)."""
    application = applications.viewable_application(application_id, user)
    instance = applications.process_of(application)
    definition = db.session.execute(select(ProcessDefinition).where(
        ProcessDefinition.id == instance.definition_id)).scalar_one()
    path = path_of(instance.state or {}, definition.bpmn_xml.encode(), _epoch(instance.created_at))
    steps = []
    data: dict[str, Any] = {}
    for event in _events(application, instance):
        element = event.details.get("element_id") if isinstance(event.details.get("element_id"), str) else None
        changed = _changed(event)
        data = {**data, **changed}
        # Events are written just after the step they describe ran: the path then includes that step.
        steps.append(ReplayStep(event, element, path.at(_epoch(event.at)), changed, data))
    return ApplicationPath(application, definition, path.at(), steps)

"""The process history as the application page shows it: each engine event with the details a reader needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from app.models import AuditEvent, HumanTask, SealApplication
from app.services import accounts, applications
from app.web.labels import decision_label
from app.workflow import history


@dataclass(frozen=True)
class HistoryRow:
    """One event: when, who, what, and (label, value) pairs already in the reader's language."""

    at: datetime
    actor: str
    action: str
    details: list[tuple[str, str]]


def user_ids(events: Iterable[AuditEvent]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        if event.actor_id is not None:
            ids.add(event.actor_id)
        for key in ("assignee_id", "on_behalf_of_id"):
            if isinstance(event.details.get(key), int):
                ids.add(event.details[key])
        ids.update(u for u in event.details.get("candidate_user_ids") or () if isinstance(u, int))
    return ids


def event_details(details: dict[str, Any], names: dict[int, str], steps: dict[str, str]) -> list[tuple[str, str]]:
    """An event's details a reader needs, as (label, value) pairs in the reader's language."""
    def name(user_id: Any) -> str:
        if user_id is None:
            return ""
        return names.get(user_id, str(user_id)) if isinstance(user_id, int) else str(user_id)

    def text(key: str) -> str:
        return str(details.get(key) or "")

    element = text("element_id")
    step = steps.get(element, element)
    offered = [name(u) for u in details.get("candidate_user_ids") or ()] + list(details.get("candidate_roles") or ())
    shown = [
        (_("Process"), f"{text('process_id')} v{text('version')}" if details.get("version")
         else text("process_id")),
        (_("Step"), f"{step} ({element})" if step != element else element),
        (_("For"), name(details.get("assignee_id"))),
        (_("Offered to"), ", ".join(offered)),
        (_("Level"), text("level")),
        (_("Why here"), text("note")),
        (_("Decision"), decision_label(text("decision")) if text("decision") else ""),
        (_("On behalf of"), name(details.get("on_behalf_of_id"))),
        (_("Comment"), text("comment")),
        (_("Job"), text("operation")),
        (_("Reason given"), text("reason")),
        (_("Outcome"), text("outcome")),
    ]
    return [(label, value) for label, value in shown if value]


def process_history(application: SealApplication, steps: list[HumanTask]) -> list[HistoryRow]:
    """The history of the application's process, oldest first, with people's names and step names."""
    events = history(applications.process_of(application).id)
    names = accounts.user_names(user_ids(events))
    step_names = {t.element_id: t.name for t in steps}
    return [HistoryRow(e.at, names.get(e.actor_id, e.actor_name) if e.actor_id else e.actor_name, e.action,
                       event_details(e.details, names, step_names)) for e in events]

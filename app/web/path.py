"""The application's history on its diagram, as JSON for the page's bpmn-js viewer and replay
(app/web/assets/path-viewer.js): the diagram of the version it ran, the path now, and every event with the path
after it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from app.models import RoleName
from app.services import accounts, applications
from app.services.process_path import ApplicationPath, ReplayStep, application_path
from app.web.guards import me, role_required
from app.web.history import event_details, user_ids
from app.web.labels import action_label, decision_label, diagram_text
from app.workflow.path import Moment

bp = Blueprint("path", __name__)


def _moment(moment: Moment) -> dict[str, Any]:
    return {"done": moment.done, "flows": moment.flows, "waiting": moment.waiting, "failed": moment.failed}


def _step(step: ReplayStep, names: dict[int, str], step_names: dict[str, str]) -> dict[str, Any]:
    event, details = step.event, step.event.details
    behalf = details.get("on_behalf_of_id")
    return {
        "id": event.id, "seq": event.seq, "at": event.at.isoformat(timespec="seconds") + "Z",
        "actor": names.get(event.actor_id, event.actor_name) if event.actor_id else event.actor_name,
        "on_behalf_of": names.get(behalf, str(behalf)) if isinstance(behalf, int) else None,
        "action": event.action, "label": action_label(event.action), "element": step.element_id,
        "decision": decision_label(str(details["decision"])) if details.get("decision") else None,
        "comment": details.get("comment") or None,
        "changed": step.changed, "details": event_details(details, names, step_names),
        "state": _moment(step.moment), "data": step.data,
    }


def path_json(path: ApplicationPath) -> dict[str, Any]:
    names = accounts.user_names(user_ids(s.event for s in path.steps))
    step_names = {t.element_id: t.name for t in applications.approval_steps(path.application)}
    return {
        "application": path.application.id,
        "process": {"id": path.definition.process_id, "name": diagram_text(path.definition.name),
                    "version": path.definition.version},
        "diagram": path.definition.bpmn_xml,
        "now": _moment(path.now),
        "steps": [_step(s, names, step_names) for s in path.steps],
    }


@bp.get("/applications/<int:application_id>/path.json")
@role_required(*tuple(RoleName))
def path(application_id: int) -> Any:
    return jsonify(path_json(application_path(application_id, me())))

"""The auditor's desk (/audit): the whole audit log searched by actor, action, object and day; the chain's status and
its newest anchor; and a button that runs the full check of the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.errors import InvalidInput
from app.extensions import db
from app.models import AuditEvent
from app.models.audit import record
from app.models.timestamps import utcnow
from app.services import accounts, audit
from app.services.anomalies import AnomalyKind, find_anomalies, rules_from_settings
from app.services.audit import AuditCheck, EventSearchSpec
from app.web.guards import actor, me
from app.web.labels import OBJECT_TYPE_LABELS

bp = Blueprint("audit", __name__)
F = TypeVar("F", bound=Callable[..., Any])
# How much of an event's details the table shows before the reader opens them.
SUMMARY_ITEMS, SUMMARY_CHARS = 4, 60


def readers_only(view: F) -> F:
    """Login required, and the log's readers only (audit.may_read_log); others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        audit.check_log_reader(me())
        return view(*args, **kwargs)

    return cast(F, wrapped)


@dataclass(frozen=True)
class AuditRow:
    """One event as the table shows it."""

    event: AuditEvent
    actor: str
    object_url: str | None
    summary: str
    details: str


def _number(name: str, default: int) -> int:
    text = request.args.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise InvalidInput(_("%(name)s must be a whole number, not %(value)s.", name=name, value=text[:20])) from None


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidInput(_("The date %(date)s is not a date (YYYY-MM-DD).", date=text[:20])) from None


def _spec() -> EventSearchSpec:
    """The search the query string asks for; InvalidInput saying what cannot be read."""
    args = request.args
    return EventSearchSpec(args.get("actor", "").strip(), args.get("action", "").strip(),
                           args.get("object_type", "").strip(), args.get("object_id", "").strip(),
                           _day("from"), _day("to"), _number("page", 1), _number("per_page", 50))


def _summary(details: dict[str, Any]) -> str:
    def short(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"

    items = [f"{key}: {short(value)}" for key, value in list(details.items())[:SUMMARY_ITEMS]]
    return " · ".join(items) + (" · …" if len(details) > SUMMARY_ITEMS else "")


def _object_url(event: AuditEvent, applications: dict[str, int]) -> str | None:
    if event.object_type == "seal_application" and event.object_id.isascii() and event.object_id.isdigit():
        return url_for("applications.detail", application_id=int(event.object_id))
    if event.object_type == "process_instance" and event.object_id in applications:
        return url_for("applications.detail", application_id=applications[event.object_id])
    if event.object_type == "seal" and event.object_id.isascii() and event.object_id.isdigit():
        return url_for("seals.detail", seal_id=int(event.object_id))
    return None


def _rows(events: list[AuditEvent]) -> list[AuditRow]:
    """The events as rows: the recorded actor with today's name beside it, the object's page, the details."""
    names = accounts.user_names({e.actor_id for e in events if e.actor_id is not None})
    applications = audit.instance_applications(events)
    rows = []
    for event in events:
        name = names.get(event.actor_id) if event.actor_id is not None else None
        who = event.actor_name if name in (None, event.actor_name) else f"{name} ({event.actor_name})"
        rows.append(AuditRow(event, who, _object_url(event, applications), _summary(event.details),
                             json.dumps(event.details, ensure_ascii=False, indent=1, sort_keys=True)))
    return rows


def _page(result: AuditCheck | None = None, status: int = 200) -> Any:
    """The page: the chain's status, the check's result if one was run, the filter and one page of events."""
    actions = audit.distinct_actions()
    families = sorted({a.split(".")[0] + "." for a in actions if "." in a})
    context: dict[str, Any] = {"status": audit.chain_status(), "result": result, "actions": actions,
                               "families": families, "object_types": OBJECT_TYPE_LABELS,
                               "args": request.args.to_dict()}
    try:
        found = audit.search_events(_spec(), me())
    except InvalidInput as exc:
        return render_template("audit/index.html", problem=exc.message, **context), 400
    return render_template("audit/index.html", found=found, rows=_rows(found.events), **context), status


@bp.get("/audit")
@readers_only
def index() -> Any:
    return _page()


@bp.post("/audit/check")
@readers_only
def check() -> Any:
    """Run the full check of the log (chaining what is committed first, so that new events are checked too), record
    that it was run and what it found, and show the result above the log."""
    while audit.extend_chain():
        db.session.commit()  # each batch ends its short critical section
    result = audit.check_log()
    db.session.rollback()
    record(actor(), "audit.checked", "audit_log", "chain", events=result.events, problems=len(result.problems))
    db.session.commit()
    return _page(result)


ANOMALY_TITLES = {
    AnomalyKind.OUTSIDE_HOURS: _l("Sealed outside working hours"),
    AnomalyKind.SPLIT: _l("Amounts split under the threshold"),
    AnomalyKind.SAME_DOCUMENT: _l("The same document sealed more than once"),
    AnomalyKind.BURST: _l("A burst of uses of one seal"),
}


@bp.get("/audit/anomalies")
@readers_only
def anomalies() -> Any:
    """The anomaly flags over a period (default: the last 90 days), each with the applications behind it."""
    today = utcnow().date()
    try:
        start, end = _day("from") or today - timedelta(days=89), _day("to") or today
        found = find_anomalies(start, end, me())
    except InvalidInput as exc:
        return render_template("audit/anomalies.html", problem=exc.message, start=request.args.get("from", ""),
                               end=request.args.get("to", ""), rules=None, groups={}, titles=ANOMALY_TITLES), 400
    groups: dict[AnomalyKind, list[Any]] = {kind: [] for kind in AnomalyKind}
    for anomaly in found:
        groups[anomaly.kind].append(anomaly)
    return render_template("audit/anomalies.html", start=start.isoformat(), end=end.isoformat(),
                           rules=rules_from_settings(), groups=groups, titles=ANOMALY_TITLES)

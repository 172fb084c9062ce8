"""A seal's history as its page shows it: each audit event about the seal with the details a reader needs, people
and departments by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _

from app.models import AuditEvent
from app.services import accounts
from app.web.history import HistoryRow
from app.web.labels import SEAL_STATUS_LABELS, revocation_reason_label


def _ids(value: Any) -> list[int]:
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def _names(ids: list[int], names: dict[int, str]) -> str:
    return ", ".join(names.get(i, str(i)) for i in ids) or "—"


def _details(action: str, details: dict[str, Any], people: dict[int, str], departments: dict[int, str]
             ) -> list[tuple[str, str]]:
    def text(key: str) -> str:
        return str(details.get(key) or "")

    if action == "seal.holders_changed":
        owner = details.get("owner_id")
        return [(_("Owner"), people.get(owner, str(owner)) if isinstance(owner, int) else "—"),
                (_("Custodians"), _names(_ids(details.get("custodian_ids")), people)),
                (_("Departments"), _names(_ids(details.get("department_ids")), departments)),
                (_("People"), _names(_ids(details.get("user_ids")), people))]
    reason = details.get("reason")
    shown = [
        (_("Name"), text("name")),
        (_("Previous name"), text("previous_name")),
        (_("Status"), str(SEAL_STATUS_LABELS.get(text("status"), text("status")))),
        (_("Reason"), revocation_reason_label(reason) if isinstance(reason, str) else ""),
        (_("Image version"), text("version")),
        (_("Image SHA-256"), text("sha256")[:16]),
        (_("Certificate serial"), text("certificate_serial")),
        (_("Previous certificate"), text("previous_serial")),
        (_("Valid until"), text("not_after")[:10]),
        (_("Key label"), text("key_label")),
        (_("Note"), text("note")),
    ]
    return [(label, value) for label, value in shown if value]


def rows(events: Iterable[AuditEvent]) -> list[HistoryRow]:
    """The events as rows, in the order given."""
    events = list(events)
    user_ids = {e.actor_id for e in events if e.actor_id is not None}
    department_ids: set[int] = set()
    for event in events:
        user_ids.update(_ids(event.details.get("custodian_ids")) + _ids(event.details.get("user_ids")))
        if isinstance(event.details.get("owner_id"), int):
            user_ids.add(event.details["owner_id"])
        department_ids.update(_ids(event.details.get("department_ids")))
    people = accounts.user_names(user_ids)
    departments = {d.id: d.name for d in accounts.list_departments() if d.id in department_ids}
    return [HistoryRow(e.at, people.get(e.actor_id, e.actor_name) if e.actor_id else e.actor_name, e.action,
                       _details(e.action, e.details, people, departments)) for e in events]

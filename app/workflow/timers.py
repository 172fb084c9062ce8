"""The timers a process waits on, stored with their due time so that the clock (app/jobs/clock.py) can find the
due ones without loading any process; engine.fire_timer fires one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import ProcessTimer
from app.models.timestamps import utcnow


def is_timer(spec: Any) -> bool:
    """Whether a task spec waits on a timer (a boundary or intermediate timer event)."""
    return isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)


def _due_time(spiff_task: Any) -> datetime:
    """When a waiting timer falls due (SpiffWorkflow computed it when the timer started waiting), naive UTC."""
    value = spiff_task.task_spec.event_definition.details(spiff_task).value
    return TimerEventDefinition.get_datetime(value).astimezone(UTC).replace(tzinfo=None)


_CANCEL_OPEN = (update(ProcessTimer)
                .where(ProcessTimer.instance_id == bindparam("of_instance"), ProcessTimer.fired_at.is_(None),
                       ProcessTimer.cancelled_at.is_(None))
                .values(cancelled_at=bindparam("now")))
_CANCEL_OPEN_OF = _CANCEL_OPEN.where(ProcessTimer.task_guid.in_(bindparam("guids", expanding=True)))


def cancel_open(instance_id: int, guids: Collection[str] | None = None) -> None:
    """Cancel the instance's timers that have neither fired nor been cancelled: all (it will not go on), or those
    of the given task guids."""
    params = {"of_instance": instance_id, "now": utcnow()}
    if guids is None:
        db.session.execute(_CANCEL_OPEN, params)
    else:
        db.session.execute(_CANCEL_OPEN_OF, {**params, "guids": list(guids)})


def sync(instance_id: int, stopped: Collection[str], started: Mapping[str, Any]) -> None:
    """Cancel the stored timers of the task guids the process stopped waiting on, and store each timer it started
    waiting on (task guid -> SpiffWorkflow task) with its due time."""
    if stopped:
        cancel_open(instance_id, stopped)
    for guid, spiff_task in started.items():
        db.session.add(ProcessTimer(instance_id=instance_id, task_guid=guid,
                                    element_id=spiff_task.task_spec.bpmn_id, due_at=_due_time(spiff_task)))


def due(now: datetime) -> list[int]:
    """The ids of timers due at `now` (naive UTC) that have not fired, oldest first."""
    query = (select(ProcessTimer.id)
             .where(ProcessTimer.due_at <= now, ProcessTimer.fired_at.is_(None), ProcessTimer.cancelled_at.is_(None))
             .order_by(ProcessTimer.due_at, ProcessTimer.id))
    return list(db.session.execute(query).scalars())

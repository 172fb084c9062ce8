"""The timers a process waits on, stored with their due time so that the clock (app/jobs/clock.py) can find the
due ones without loading any process; engine.fire_timer fires one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select

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


def _open(instance_id: int) -> list[ProcessTimer]:
    return list(db.session.execute(select(ProcessTimer).where(
        ProcessTimer.instance_id == instance_id, ProcessTimer.fired_at.is_(None),
        ProcessTimer.cancelled_at.is_(None))).scalars())


def sync(instance_id: int, waiting: dict[str, Any], fresh: bool = False) -> None:
    """Store each timer the process waits on (task guid -> SpiffWorkflow task) with its due time; timers it stopped
    waiting on are cancelled. fresh: the instance was created in this step and has none stored yet."""
    stored = {} if fresh else {t.task_guid: t for t in _open(instance_id)}
    for guid, timer in stored.items():
        if guid not in waiting:
            timer.cancelled_at = utcnow()
    for guid, spiff_task in waiting.items():
        if guid not in stored:
            db.session.add(ProcessTimer(instance_id=instance_id, task_guid=guid,
                                        element_id=spiff_task.task_spec.bpmn_id, due_at=_due_time(spiff_task)))


def cancel_open(instance_id: int) -> None:
    """Cancel every timer of the instance that has not fired: it will not go on."""
    now = utcnow()
    for timer in _open(instance_id):
        timer.cancelled_at = now


def due(now: datetime) -> list[int]:
    """The ids of timers due at `now` (naive UTC) that have not fired, oldest first."""
    query = (select(ProcessTimer.id)
             .where(ProcessTimer.due_at <= now, ProcessTimer.fired_at.is_(None), ProcessTimer.cancelled_at.is_(None))
             .order_by(ProcessTimer.due_at, ProcessTimer.id))
    return list(db.session.execute(query).scalars())

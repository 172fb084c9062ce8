"""The clock: fires due BPMN timers (reminders, escalations), enqueues jobs whose retry time has come, and
enqueues again jobs that no worker will run (their enqueue was lost, or their worker died).

`tick` runs as an RQ job, enqueued every CLOCK_INTERVAL seconds by the clock process (`flask --app wsgi clock`,
RQ's cron scheduler). It is idempotent: a timer fires once under its instance's lock however many ticks race for
it, so a second clock process does no harm. Tests call `tick(now=...)` to move time on without sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from rq.cron import CronScheduler
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError
from app.extensions import db
from app.jobs.runner import requeue_due_retries, stranded
from app.models import JobStatus, ProcessTimer
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.services import applications, audit, upkeep
from app.services.queue import redis_connection, schedule
from app.workflow import WorkflowFailed, due_timers, fire_timer

log = logging.getLogger(__name__)


# A queued or running job that RQ has not heard of (or saw fail) for this long is enqueued again.
STRANDED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Tick:
    timers_fired: int
    jobs_requeued: int
    jobs_recovered: int
    events_chained: int = 0
    anchored: bool = False
    documents_renewed: int = 0


def tick(now: datetime | None = None) -> Tick:
    """Fire every timer due at `now` (naive UTC; default: the present), enqueue every job due for a retry, and
    enqueue again the jobs no worker will run. (Two ticks at once do no harm: a worker claims a job once.)"""
    now = now or utcnow()
    actor = Actor.system("clock")
    fired = 0
    for timer_id in due_timers(now):
        try:
            step = fire_timer(timer_id, actor)
            if step is not None:
                applications.follow(step, actor)
                fired += 1
            db.session.commit()
        except WorkflowFailed as exc:  # the process cannot take the timer's path: it fails, with the reason
            db.session.rollback()
            log.error("timer %s could not fire: %s", timer_id, exc)
            timer = db.session.get(ProcessTimer, timer_id)
            if timer is not None:
                applications.fail_process(timer.instance_id, exc.message, actor)
                db.session.commit()
        except DomainError as exc:  # one broken process must not stop the others' timers
            db.session.rollback()
            log.error("timer %s could not fire: %s", timer_id, exc)
    requeued = requeue_due_retries(now)
    db.session.commit()
    recovered = stranded(now, STRANDED_AFTER)
    for job in recovered:
        # A worker that died mid-job left it running: it is queued again (operators do their work once).
        job.status = JobStatus.QUEUED
        record(actor, "job.recovered", "job", job.id, operation=job.operation, attempts=job.attempts)
        schedule(job)
    db.session.commit()
    chained, anchored = _chain_and_anchor()
    renewed = _upkeep(now, actor)
    return Tick(fired, len(requeued), len(recovered), chained, anchored, renewed)


def _upkeep(now: datetime, actor: Actor) -> int:
    """Read the newest time-stamps of sealed versions not read yet, and renew those that expire soon (a few per
    tick: a backlog is worked off tick by tick, never holding one tick long)."""
    upkeep.read_timestamps(now)
    db.session.commit()
    try:
        renewed = upkeep.renew_due(actor, now)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        log.error("sealed documents could not be time-stamped again: %s", exc)
        return 0
    return len(renewed)


def _chain_and_anchor() -> tuple[int, bool]:
    """Chain the events committed since the last tick (this tick's own included) and time-stamp the new head. A TSA
    that does not answer leaves the head for the next tick's anchor; the chain itself never waits for it."""
    chained = 0
    while linked := audit.extend_chain():
        db.session.commit()  # each batch ends its short critical section
        chained += linked
    try:
        anchored = audit.anchor_head() is not None
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        log.error("the audit chain's head could not be time-stamped: %s", exc)
        anchored = False
    except IntegrityError:  # a second clock anchored the same head first: one anchor is enough
        db.session.rollback()
        anchored = False
    return chained, anchored


def make_clock(app: Flask) -> CronScheduler:
    """RQ's cron scheduler, enqueueing `tick` on SealFlow's queue every CLOCK_INTERVAL seconds."""
    scheduler = CronScheduler(connection=redis_connection())
    scheduler.register(tick, app.config["RQ_QUEUE"], interval=app.config["CLOCK_INTERVAL"],
                       job_timeout=app.config["CLOCK_INTERVAL"] * 10, result_ttl=600)
    return scheduler


def run_clock(app: Flask) -> None:
    """Run the clock until stopped (SIGTERM or Ctrl-C)."""
    make_clock(app).start()

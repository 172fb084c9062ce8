"""The clock: fires due BPMN timers (reminders, escalations), enqueues jobs whose retry time has come, and
enqueues again jobs that no worker will run (their enqueue was lost, or their worker died).

`tick` runs as an RQ job, enqueued every CLOCK_INTERVAL seconds by the clock process (`flask --app wsgi clock`,
RQ's cron scheduler). It is idempotent: a timer fires once under its instance's lock however many ticks race for
it, so a second clock process does no harm. Tests call `tick(now=...)` to move time on without sleeping.

The clock process also sweeps the jobs itself (`sweep_jobs`), every half WORKER_TTL: a dead worker's job is queued
again within about 1.5 x WORKER_TTL, without waiting for a tick behind a backlog of queued jobs, and a job whose
enqueue was lost while Redis was away is queued as soon as Redis answers. Redis going away makes the clock wait
and try again, with a growing pause it logs, instead of exiting.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.errors import DomainError
from app.extensions import db
from app.jobs.outage import REDIS_AWAY, Backoff
from app.jobs.runner import recover_stranded, requeue_due_retries
from app.models import ProcessTimer
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, audit, upkeep
from app.services.queue import redis_connection
from app.workflow import WorkflowFailed, due_timers, fire_timer

log = logging.getLogger(__name__)


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
    requeued, recovered = sweep_jobs(now)
    chained, anchored = _chain_and_anchor()
    renewed = _upkeep(now, actor)
    return Tick(fired, requeued, recovered, chained, anchored, renewed)


def sweep_jobs(now: datetime) -> tuple[int, int]:
    """Enqueue the jobs whose retry time has come, and again those no worker runs or will run (a worker that
    beat last WORKER_TTL seconds ago died; a queued job RQ does not hold lost its enqueue): how many of each."""
    requeued = requeue_due_retries(now)
    db.session.commit()
    recovered = recover_stranded(now, timedelta(seconds=current_app.config["WORKER_TTL"]), Actor.system("clock"))
    db.session.commit()
    return len(requeued), len(recovered)


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


class Clock(CronScheduler):
    """RQ's cron scheduler, which also sweeps the jobs in this process and rides out a Redis outage."""

    flask_app: Flask

    def start(self) -> None:
        """Run until stopped (SIGTERM or Ctrl-C)."""
        backoff = Backoff(self.log, f"Clock {self.name}")
        self._install_signal_handlers()
        sweep_every = self.flask_app.config["WORKER_TTL"] / 2
        registered, next_sweep = False, 0.0
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    if self.enqueue_jobs():
                        self.save()
                    self.heartbeat()
                    if time.monotonic() >= next_sweep:
                        self._sweep()
                        next_sweep = time.monotonic() + sweep_every
                    backoff.succeeded()
                except REDIS_AWAY as exc:
                    backoff.wait(exc)
                    continue
                time.sleep(max(0.0, min(self.calculate_sleep_interval(), next_sweep - time.monotonic())))
        except (KeyboardInterrupt, StopRequested):
            log.info("Clock %s: stopping on request", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_AWAY:
                pass

    def _sweep(self) -> None:
        with self.flask_app.app_context():
            try:
                requeued, recovered = sweep_jobs(utcnow())
            except SQLAlchemyError as exc:  # the database away: the next sweep tries again
                db.session.rollback()
                log.error("Clock %s: jobs not swept (%s)", self.name, exc)
                return
            except (KeyboardInterrupt, StopRequested):
                db.session.rollback()
                raise
            except Exception:  # one job the sweep cannot settle must not stop the clock: said, and tried again
                db.session.rollback()
                log.exception("Clock %s: the sweep failed; the next one tries again", self.name)
                return
        if requeued or recovered:
            log.info("Clock %s: %d jobs queued for their retry, %d stranded jobs queued again", self.name, requeued,
                     recovered)


def make_clock(app: Flask) -> Clock:
    """The clock, enqueueing `tick` on SealFlow's queue every CLOCK_INTERVAL seconds."""
    clock = Clock(connection=redis_connection())
    clock.flask_app = app
    clock.register(tick, app.config["RQ_QUEUE"], interval=app.config["CLOCK_INTERVAL"],
                   job_timeout=app.config["CLOCK_INTERVAL"] * 10, result_ttl=600)
    return clock


def run_clock(app: Flask) -> None:
    """Run the clock until stopped (SIGTERM or Ctrl-C)."""
    make_clock(app).start()

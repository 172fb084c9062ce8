"""The RQ worker SealFlow runs: no fork, a fresh app context (and database session) per job, a heartbeat that goes
on while a job runs, and a work loop that rides out a Redis outage instead of exiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from flask import Flask
from redis.client import Pipeline
from rq import Queue, SimpleWorker, worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job as RqJob
from rq.worker import DequeueStrategy

from app.jobs.deadline import Deadline
from app.jobs.outage import REDIS_AWAY, Backoff
from app.jobs.runner import keep_alive
from app.services.queue import redis_connection


class AppWorker(SimpleWorker):
    """Each job runs inside its own application context, so sessions never leak between jobs.

    The worker beats every quarter of WORKER_TTL, between jobs (RQ's loop) and during them (a thread of its own, as
    the job runs in this process): on its Redis key, which expires WORKER_TTL after the last beat, and on the row of
    the job it runs, which the clock reads to find jobs whose worker died (app/jobs/runner.py, `stranded`)."""

    flask_app: Flask
    death_penalty_class = Deadline
    max_connection_wait_time = Backoff.LONGEST  # RQ's own reconnection pauses while it waits for a job

    def execute_job(self, job: RqJob, queue: Queue) -> Any:
        # The job's session ends (its app context torn down) before its heartbeat stops.
        with self._beating(job.id), self.flask_app.app_context():
            return super().execute_job(job, queue)

    @contextmanager
    def _beating(self, key: str) -> Iterator[None]:
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(key, stop), name=f"heartbeat {key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _beat(self, key: str, stop: threading.Event) -> None:
        # The row's beat first (it is what keeps the job ours), each beat on its own: no error of one (a Redis that
        # refuses writes, a database away) may end the thread and so let a live job be judged dead.
        while not stop.wait(self.worker_ttl / 4):
            try:
                with self.flask_app.app_context():
                    keep_alive(key)
            except Exception as exc:
                self.log.warning("Worker %s: no heartbeat on job %s (%s)", self.name, key, exc)
            try:
                self.heartbeat()
            except Exception as exc:  # the job goes on; the row's heartbeat is what keeps it ours
                self.log.warning("Worker %s: no heartbeat on Redis (%s)", self.name, exc)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """Beat with WORKER_TTL as the key's lifetime (RQ would keep it a job's timeout + 60 s: far too long to tell
        a dead worker), and register again when Redis lost the key (restarted empty) while this worker lived."""
        if pipeline is not None:
            super().heartbeat(self.worker_ttl, pipeline)
            return
        with self.connection.pipeline() as own:
            # Its birth, written only when it registers: another command (a state change) may have made the key again
            own.hexists(self.key, "birth")
            super().heartbeat(self.worker_ttl, own)
            registered = own.execute()[0]
        if not registered:
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, again)
                again.expire(self.key, self.worker_ttl)
                again.execute()
            self.set_state(self.get_state())
            self.log.warning("Worker %s: registered again (Redis had lost its record)", self.name)

    def work(self, burst: bool = False, logging_level: str | None = None,
             date_format: str = DEFAULT_LOGGING_DATE_FORMAT, log_format: str = DEFAULT_LOGGING_FORMAT,
             max_jobs: int | None = None, max_idle_time: int | None = None, with_scheduler: bool = False,
             dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT) -> bool:
        """RQ's work loop (without its scheduler, which SealFlow does not use), except that Redis going away makes
        the worker wait and try again, with a growing pause it logs, instead of exiting."""
        backoff = Backoff(self.log, f"Worker {self.name}")
        completed = 0
        self._install_signal_handlers()
        try:
            self._bootstrap(backoff, logging_level, date_format, log_format)
            self._dequeue_strategy = dequeue_strategy
            while completed != max_jobs:
                try:
                    self.check_for_suspension(burst)
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    if self._stop_requested:
                        break
                    result = self.dequeue_job_and_maintain_ttl(None if burst else self.dequeue_timeout,
                                                               max_idle_time)
                    backoff.succeeded()
                    if result is None:
                        break
                    self.execute_job(*result)
                    self.heartbeat()
                    completed += 1
                except REDIS_AWAY as exc:
                    backoff.wait(exc)
        except StopRequested:
            pass
        finally:
            with suppress(*REDIS_AWAY):
                self.teardown()
        return bool(completed)

    def _bootstrap(self, backoff: Backoff, *logging: Any) -> None:
        while True:
            try:
                self.bootstrap(*logging)
                backoff.succeeded()
                return
            except REDIS_AWAY as exc:
                backoff.wait(exc)


def make_worker(app: Flask) -> AppWorker:
    """A worker on SealFlow's queue, with the heartbeat interval from the configuration."""
    connection = redis_connection()
    worker = AppWorker(
        [Queue(app.config["RQ_QUEUE"], connection=connection)],
        connection=connection,
        worker_ttl=app.config["WORKER_TTL"],
    )
    worker.flask_app = app
    return worker

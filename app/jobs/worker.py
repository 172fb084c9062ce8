"""The RQ worker SealFlow runs: no fork, a fresh app context (and database session) per job."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import Queue, SimpleWorker
from rq.job import Job as RqJob

from app.services.queue import redis_connection


class AppWorker(SimpleWorker):
    """Each job runs inside its own application context, so sessions never leak between jobs."""

    flask_app: Flask

    def execute_job(self, job: RqJob, queue: Queue) -> Any:
        with self.flask_app.app_context():
            return super().execute_job(job, queue)


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

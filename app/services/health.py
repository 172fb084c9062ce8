"""The state of what SealFlow depends on: database, Redis, and the workers' heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services.queue import redis_connection


def _database() -> dict[str, Any]:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ok": False, "error": exc.__class__.__name__}


def _redis() -> dict[str, Any]:
    from redis.exceptions import RedisError  # redis and rq are imported on first use (app/services/queue.py)

    try:
        redis_connection().ping()
        return {"ok": True}
    except (RedisError, OSError) as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def _workers() -> dict[str, Any]:
    from redis.exceptions import RedisError
    from rq import Worker

    try:
        workers = Worker.all(connection=redis_connection())
    except (RedisError, OSError) as exc:
        return {"ok": False, "count": 0, "error": exc.__class__.__name__}
    now = datetime.now(UTC)
    limit = current_app.config["WORKER_TTL"]  # workers beat every quarter of it, also while they run a job
    beats = [w.last_heartbeat.replace(tzinfo=UTC) for w in workers if w.last_heartbeat]
    alive = [b for b in beats if (now - b).total_seconds() <= limit]
    last = max(beats).isoformat() if beats else None
    return {"ok": bool(alive), "count": len(alive), "last_heartbeat": last}


def check() -> dict[str, Any]:
    """Each dependency's state, and `ok` when all are up."""
    parts = {"database": _database(), "redis": _redis(), "worker": _workers()}
    return {**parts, "ok": all(part["ok"] for part in parts.values())}

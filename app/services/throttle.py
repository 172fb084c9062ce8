"""Login throttling: failed logins counted per account and per address in SealFlow's Redis, so that every web
process on every machine sees the same counts. Past the limit, logins from there are refused for a while."""

from __future__ import annotations

import hashlib
import logging

from flask import current_app

from app.services.queue import redis_connection

log = logging.getLogger(__name__)
_PREFIX = "sealflow:login-failures"


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """(Redis key, limit) for the account and the address; names are hashed (no user input in key names)."""
    config = current_app.config
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"{_PREFIX}:account:{account}", config["LOGIN_MAX_FAILURES"])]
    if address:
        keys.append((f"{_PREFIX}:address:{address}", config["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
    return keys


def blocked_for(username: str, address: str | None) -> int | None:
    """Minutes until logins for this account or from this address are accepted again; None when they are now.
    With Redis away, nothing is throttled (logins must not depend on it), and that is logged."""
    from redis.exceptions import RedisError  # redis is imported on first use (app/services/queue.py)

    try:
        connection = redis_connection()
        for key, limit in _keys(username, address):
            count = connection.get(key)
            if count is not None and int(count) >= limit:
                return max(1, (int(connection.ttl(key)) + 59) // 60)
    except RedisError as exc:
        log.warning("login throttling is off while Redis cannot be asked: %s", exc)
    return None


def count_failure(username: str, address: str | None) -> None:
    """One more failed login for the account and the address; the count lapses after the lockout period."""
    from redis.exceptions import RedisError

    window = current_app.config["LOGIN_LOCKOUT_MINUTES"] * 60
    try:
        connection = redis_connection()
        for key, _ in _keys(username, address):
            if connection.incr(key) == 1:  # the window starts at the first failure (EXPIRE NX needs Redis 7)
                connection.expire(key, window)
    except RedisError as exc:
        log.warning("a failed login could not be counted: %s", exc)


def forget_failures(username: str) -> None:
    """A successful login clears the account's count (the address's stays: it may be guessing other accounts)."""
    from redis.exceptions import RedisError

    try:
        redis_connection().delete(_keys(username, None)[0][0])
    except RedisError as exc:
        log.warning("failed logins could not be cleared: %s", exc)

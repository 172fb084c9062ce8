"""Riding out a Redis outage: the worker and the clock wait with a growing pause, saying so, instead of exiting."""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a Redis that is away (stopped, restarting, unreachable) raises; anything else is a bug, not an outage.
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError, OSError)


class Backoff:
    """Pauses between reconnection attempts: FIRST seconds, doubling up to LONGEST (short enough that a worker is
    back within seconds of Redis), reset by the first success."""

    FIRST = 0.5
    LONGEST = 5.0

    def __init__(self, log: logging.Logger, who: str) -> None:
        self._log, self._who = log, who
        self._pause = 0.0

    @property
    def waiting(self) -> bool:
        """Whether the last attempt failed (the next success ends an outage)."""
        return self._pause > 0

    def wait(self, exc: BaseException) -> None:
        """Log the failure and sleep before the next attempt."""
        self._pause = min(self.LONGEST, self._pause * 2) if self._pause else self.FIRST
        self._log.warning("%s: Redis is unreachable (%s); trying again in %.1f s", self._who, exc, self._pause)
        time.sleep(self._pause)

    def succeeded(self) -> None:
        """Redis answered: log the end of an outage, and start from the shortest pause next time."""
        if self._pause:
            self._log.warning("%s: Redis answers again", self._who)
        self._pause = 0.0

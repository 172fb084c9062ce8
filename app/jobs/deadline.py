"""A job's time limit, and whether it was reached, even when a library turned RQ's timeout into an error of its own.

RQ stops a job past its timeout by raising JobTimeoutException wherever the job happens to be. Inside pyHanko's
parser that becomes "Failed to read dictionary key …", which would read as a broken document; the runner asks here
instead whether the attempt ran out of time, and retries it.
"""

from __future__ import annotations

from types import FrameType

from rq.timeouts import BaseTimeoutException, UnixSignalDeathPenalty


class Deadline(UnixSignalDeathPenalty):
    """RQ's SIGALRM time limit (the worker's death penalty), remembering that it fired."""

    fired = False  # for the job that runs now: one job at a time in a worker process

    def setup_death_penalty(self) -> None:
        Deadline.fired = False
        super().setup_death_penalty()

    def cancel_death_penalty(self) -> None:
        super().cancel_death_penalty()
        Deadline.fired = False  # the job is over: its deadline says nothing about the next one

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        Deadline.fired = True
        super().handle_death_penalty(signum, frame)


def timed_out(exc: BaseException) -> bool:
    """Whether the attempt that raised `exc` ran out of time: the deadline fired, or a timeout is somewhere in the
    error's causes (a library that wrapped it, a worker without the Deadline class)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, BaseTimeoutException):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return Deadline.fired

"""The evaluator process: where expressions that could cost more than their size run, under limits.

Each thread of a SealFlow process (a web worker, an RQ worker, a CLI command) has its own evaluator process,
started on first use: `python -I -S app/workflow/expressions.py serve`, which imports nothing but the standard
library. Inside it, the kernel enforces the memory limit (RLIMIT_AS) and the CPU-time limit (an ITIMER_PROF alarm,
and RLIMIT_CPU behind it for work in C that never returns to Python). Here, a wall-clock limit stops an evaluator
that does not answer in time. An evaluator that went past a limit is replaced; the expression fails with the
reason, and the process that asked goes on serving others.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.workflow import expressions
from app.workflow.expressions import ExpressionTooCostly


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 1.0
    memory_mb: int = 64

    @property
    def wall_seconds(self) -> float:
        """How long to wait for an answer: the CPU limit plus the kernel's backstop (up to a second more), with
        room for a busy machine; short enough that a step holding SQLite's write lock meanwhile (a filing) ends
        before other writers give up waiting (5 s)."""
        return max(2 * self.cpu_seconds, self.cpu_seconds + 3)


_limits = Limits()


def configure(cpu_seconds: float, memory_mb: int) -> None:
    """Set the limits (from the app's settings); evaluators started earlier are replaced on their next use."""
    global _limits
    if cpu_seconds <= 0 or memory_mb <= 0:
        raise ValueError("the expression limits must be positive")
    _limits = Limits(cpu_seconds, memory_mb)


def limits() -> Limits:
    return _limits


_PROGRAM = str(Path(expressions.__file__).resolve())


class _Process:
    """One evaluator process and the pipes to it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.owner = os.getpid()
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-S", _PROGRAM, "serve", repr(limits.cpu_seconds), str(limits.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True, bufsize=0,
            cwd="/", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        # Closing the pipe ends the evaluator when this object goes (a thread that ended, a replaced evaluator).
        self._finalizer = weakref.finalize(self, _stop, self.popen)

    def ask(self, request: bytes) -> tuple[Any, ...]:
        """Send one request and wait for the answer, at most the wall-clock limit."""
        assert self.popen.stdin is not None and self.popen.stdout is not None
        try:
            expressions.write_frame(self.popen.stdin.fileno(), request)
            answer = expressions.read_frame(self.popen.stdout.fileno(), time.monotonic() + self.limits.wall_seconds)
        except TimeoutError:
            self.stop()
            return ("limit", f"it did not finish within {self.limits.wall_seconds:g} s", True)
        except OSError:  # the pipe broke: the evaluator is gone
            answer = None
        if answer is None:
            return self._died()
        reply: tuple[Any, ...] = expressions.loads(answer)
        return reply

    def _died(self) -> tuple[Any, ...]:
        code = self.popen.wait()
        if code == -signal.SIGXCPU:
            return ("limit", f"it used more than {self.limits.cpu_seconds:g} s of CPU time", True)
        if code in (-signal.SIGKILL, -signal.SIGSEGV):
            return ("limit", "it needed more memory than the limit allows", True)
        return ("limit", f"the expression evaluator stopped (exit status {code})", True)

    def stop(self) -> None:
        self._finalizer()


def _stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        popen.kill()
    for stream in (popen.stdin, popen.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    popen.wait()


_local = threading.local()


def _process() -> _Process:
    process: _Process | None = getattr(_local, "process", None)
    if process is not None and process.owner != os.getpid():
        # A fork inherited the parent's evaluator: leave it to the parent, start our own.
        process._finalizer.detach()
        process = None
    if process is None or process.limits != _limits or process.popen.poll() is not None:
        if process is not None:
            process.stop()
        process = _local.process = _Process(_limits)
    return process


def evaluate_isolated(expression: str, names: dict[str, Any]) -> Any:
    """Evaluate a vetted expression in this thread's evaluator process, under the limits.

    :raises ExpressionTooCostly: it went past a limit (the reason says which).
    :raises NameError, TypeError, …: what evaluating it raised, raised again here.
    """
    try:
        request = pickle.dumps((expression, expressions.plain_data(names)), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError) as exc:
        raise ExpressionTooCostly("the process data cannot be given to the expression evaluator") from exc
    process = _process()
    reply = process.ask(request)
    status = reply[0]
    if status == "ok":
        return reply[1]
    if status == "error":
        raise expressions.error_from(reply[1], reply[2])
    if reply[2]:
        process.stop()  # past its memory limit or gone: a fresh one serves the next expression
    raise ExpressionTooCostly(reply[1])

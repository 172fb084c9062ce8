"""Real parts for the fault tests: a private redis-server that a test stops and starts again, a time-stamp authority
that never answers, and SealFlow's own worker and clock processes (`flask --app wsgi worker|clock`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

ROOT = Path(__file__).resolve().parents[2]
# Short enough that a test sees a dead worker recovered in seconds; the clock ticks every 2 s.
FAST = {"SEALFLOW_WORKER_TTL": "4", "SEALFLOW_CLOCK_INTERVAL": "2"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def until(condition: Callable[[], object], what: str, deadline: float = 120.0) -> None:
    """Poll until the condition holds (a generous deadline, never a timing assertion)."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: stopping it loses everything, the
    harshest outage (a restarted Redis that remembers nothing)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115  (the server's output, for as long as it runs)
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        until(self._answers, "the private redis-server answers", 30)

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): the kernel still accepts connections and takes commands, nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def wake(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self.wake()  # a frozen server cannot take its SIGTERM
            self._process.terminate()
            self._process.wait(30)
            self._process = None

    def _answers(self) -> bool:
        try:
            return bool(Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except RedisConnectionError:
            return False


@contextmanager
def silent_tsa() -> Iterator[str]:
    """A time-stamp authority that takes requests and never answers (its address): a job that asks it hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # connections wait in the backlog, never accepted, never answered
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"


class SealFlowProcess:
    """`flask --app wsgi <command>` on the test's instance folder and database, with its output in a file."""

    def __init__(self, app: Flask, redis: RedisServer, log: Path, *command: str, **env: str) -> None:
        self.log = log
        environment = {**os.environ, "SEALFLOW_INSTANCE_PATH": app.instance_path, "REDIS_URL": redis.url, **FAST,
                       **env}
        with open(log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *command],
                                            env=environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no goodbye to Redis or the database."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def wait(self, timeout: float = 300) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

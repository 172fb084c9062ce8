"""Fixtures of the fault tests: a private Redis the app uses, and SealFlow processes stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.jobs.processes import RedisServer, SealFlowProcess


@pytest.fixture
def redis_server(app: Flask, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the app (and every process the test starts) uses."""
    server = RedisServer(tmp_path)
    server.start()
    app.config["REDIS_URL"] = server.url
    app.extensions.pop("sealflow.redis", None)  # connected again, to this server, on first use
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def processes(app: Flask, redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., SealFlowProcess]]:
    """Start `flask --app wsgi <command>` processes (name, command…, SEALFLOW_*=value…); all stopped afterwards."""
    started: list[SealFlowProcess] = []

    def start(name: str, *command: str, **env: str) -> SealFlowProcess:
        process = SealFlowProcess(app, redis_server, tmp_path / f"{name}.log", *command, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()

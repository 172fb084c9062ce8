"""How a request's transaction ends: on PostgreSQL one that only read is committed (the connection keeps the
statements it prepared), and whatever a request wrote or left unsaved without committing is gone, on both
databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text

from app.extensions import db
from app.models import AuditEvent, Department
from app.models.audit import Actor, record
from tests.conftest import Org, login


@pytest.fixture
def endings(app: Flask) -> Iterator[list[str]]:
    """How each transaction on the engine ended: "commit" or "rollback", in order."""
    ended: list[str] = []

    def commit(connection):  # noqa: ANN001, ANN202, ARG001
        ended.append("commit")

    def rollback(connection):  # noqa: ANN001, ANN202, ARG001
        ended.append("rollback")

    event.listen(db.engine, "commit", commit)
    event.listen(db.engine, "rollback", rollback)
    yield ended
    event.remove(db.engine, "commit", commit)
    event.remove(db.engine, "rollback", rollback)


def _unsaved_work(app: Flask) -> None:
    """Pages of the test's own that change the database without committing, each in one way."""

    @app.get("/test/flushed")
    def flushed() -> str:
        db.session.add(Department(name="Flushed"))
        db.session.flush()
        return "ok"

    @app.get("/test/added")
    def added() -> str:
        db.session.execute(select(func.count(Department.id)))
        db.session.add(Department(name="Added"))
        return "ok"

    @app.get("/test/core")
    def core() -> str:
        db.session.execute(text("INSERT INTO departments (name) VALUES ('Core')"))
        return "ok"

    @app.get("/test/recorded")
    def recorded() -> str:
        db.session.execute(select(func.count(Department.id)))
        record(Actor.system("test"), "test.unsaved", "thing", 1)
        return "ok"


def test_a_page_that_only_reads_commits_on_postgresql(client: FlaskClient, org: Org, endings: list[str]):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements: PostgreSQL only (SQLite's transactions end as before)")
    login(client, "harry")
    endings.clear()
    for _ in range(3):
        assert client.get("/inbox").status_code == 200
    assert endings == ["commit"] * 3


def test_what_a_request_leaves_unsaved_is_dropped(app: Flask, client: FlaskClient, org: Org):
    _unsaved_work(app)
    for path in ("/test/flushed", "/test/added", "/test/core", "/test/recorded"):
        assert client.get(path).text == "ok"
    db.session.rollback()
    names = set(db.session.execute(select(Department.name)).scalars())
    assert names.isdisjoint({"Flushed", "Added", "Core"}), names
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "test.unsaved")).first() is None

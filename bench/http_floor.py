"""The floor of bench/http.py: the least a Flask + Flask-SQLAlchemy app must do to take an approver's decision.

Served by gunicorn like SealFlow (`bench.http_floor:app`), on the same PostgreSQL server, in its own tables:

* POST /login: the user's id into Flask's signed session cookie (no password hash: SealFlow's logins are outside
  the timing too);
* GET /inbox: one indexed SELECT of the user's first 50 ready tasks, rendered by Jinja with a CSRF token;
* POST /tasks/<id>: Flask-WTF's CSRF check, `SELECT … FOR UPDATE` of the task, an UPDATE, then the audit event
  inserted onto a hash chain (its predecessor's hash read under a transaction-scoped advisory lock, held only
  until the commit that follows), and a redirect to the inbox.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Any

from flask import Flask, abort, redirect, render_template_string, request, session
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text

db = SQLAlchemy()
CHAIN_LOCK = 7203099

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor_tasks (id bigserial PRIMARY KEY, assignee_id int NOT NULL, "
    "name text NOT NULL, state text NOT NULL, decision text, comment text, decided_at timestamptz, "
    "created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS floor_tasks_ready ON floor_tasks (assignee_id, created_at, id) WHERE state = 'READY'",
    "CREATE TABLE IF NOT EXISTS floor_audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL, actor_id int, "
    "action text NOT NULL, object_id bigint, details jsonb NOT NULL, prev_hash text, hash text NOT NULL)",
)

INBOX = """<!doctype html><title>Inbox</title>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>
<table>{% for t in tasks %}<tr><td><a href="/tasks/{{ t.id }}">{{ t.name }}</a></td>
<td>{{ t.created_at.strftime('%Y-%m-%d %H:%M') }}</td></tr>{% endfor %}</table>"""


def create_floor_app(database_url: str, secret: str) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY=secret)
    db.init_app(app)
    CSRFProtect(app)

    @app.post("/login")
    def login() -> Any:
        session["uid"] = int(request.form["user_id"])
        return redirect("/inbox")

    @app.get("/login")
    def login_page() -> Any:
        return render_template_string('<input name="csrf_token" value="{{ csrf_token() }}">')

    @app.get("/inbox")
    def inbox() -> Any:
        uid = session.get("uid") or abort(401)
        tasks = db.session.execute(text(
            "SELECT id, name, created_at FROM floor_tasks WHERE assignee_id = :uid AND state = 'READY' "
            "ORDER BY created_at, id LIMIT 50"), {"uid": uid}).all()
        return render_template_string(INBOX, tasks=tasks)

    @app.post("/tasks/<int:task_id>")
    def decide(task_id: int) -> Any:
        uid = session.get("uid") or abort(401)
        decision, comment = request.form["decision"], request.form.get("comment", "")
        row = db.session.execute(text("SELECT state, assignee_id FROM floor_tasks WHERE id = :id FOR UPDATE"),
                                 {"id": task_id}).first()
        if row is None or row.state != "READY" or row.assignee_id != uid:
            db.session.rollback()
            abort(409)
        now = datetime.now(timezone.utc)
        db.session.execute(text("UPDATE floor_tasks SET state = 'COMPLETED', decision = :d, comment = :c, "
                                "decided_at = :at WHERE id = :id"), {"d": decision, "c": comment, "at": now,
                                                                     "id": task_id})
        details = json.dumps({"decision": decision, "comment": comment}, sort_keys=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
        head = db.session.execute(text("SELECT hash FROM floor_audit ORDER BY id DESC LIMIT 1")).scalar()
        digest = hashlib.sha256(f"{head}|{now.isoformat()}|{uid}|task.completed|{task_id}|{details}".encode())
        db.session.execute(text("INSERT INTO floor_audit (at, actor_id, action, object_id, details, prev_hash, hash) "
                                "VALUES (:at, :uid, 'task.completed', :id, :details, :prev, :hash)"),
                           {"at": now, "uid": uid, "id": task_id, "details": details, "prev": head,
                            "hash": digest.hexdigest()})
        db.session.commit()
        return redirect("/inbox")

    return app


def prepare(app: Flask, assignees: list[int], per_assignee: int) -> None:
    """The floor's tables, with `per_assignee` ready tasks for each assignee."""
    with app.app_context():
        for statement in SCHEMA:
            db.session.execute(text(statement))
        db.session.execute(text("INSERT INTO floor_tasks (assignee_id, name, state, created_at) SELECT a, "
                                "'Department head approval', 'READY', now() + make_interval(secs => n) "
                                "FROM unnest(CAST(:a AS int[])) AS a, generate_series(1, :n) AS n"),
                           {"a": assignees, "n": per_assignee})
        db.session.commit()


if os.environ.get("FLOOR_DATABASE_URL"):  # under gunicorn
    app = create_floor_app(os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_SECRET"])

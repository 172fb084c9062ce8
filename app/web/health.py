"""GET /healthz: the state of the database, Redis and the workers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from app.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    report = health.check()
    return jsonify(report), 200 if report["ok"] else 503

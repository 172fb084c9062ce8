"""The one place where errors become HTTP answers: an HTML page, or JSON for JSON clients."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.errors import DomainError
from app.extensions import db
from app.workflow import InvalidDefinition


def _answer(status: int, message: str, **details: Any) -> Any:
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error=message, status=status, **details), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        db.session.rollback()  # nothing half-written stays behind
        if isinstance(exc, InvalidDefinition):  # the modeler marks each problem on its element
            return _answer(exc.status, exc.message, problems=[asdict(p) for p in exc.problems])
        return _answer(exc.status, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Any:
        limit = app.config["MAX_UPLOAD_MB"]
        return _answer(413, _("The upload is larger than the limit of %(limit)s MB.", limit=limit))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _answer(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unexpected error")
        return _answer(500, _("Something went wrong on our side; the error has been logged."))

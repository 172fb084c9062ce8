"""HTML pages: blueprints, error handlers, login loading."""

from __future__ import annotations

from flask import Flask

from app.extensions import login_manager
from app.models import User
from app.services import accounts


def init_app(app: Flask) -> None:
    """Register blueprints, error handlers and the login loader."""
    from app.web import (
        account,
        applications,
        archive,
        audit,
        auth,
        authorizations,
        compromise,
        departments,
        directory,
        errors,
        flows,
        health,
        inbox,
        labels,
        path,
        people,
        policies,
        seals,
        security,
        stats,
        substitutes,
        transactions,
        upkeep,
        verify,
        whatif,
    )

    for blueprint in (auth.bp, applications.bp, inbox.bp, substitutes.bp, seals.bp, authorizations.bp, health.bp,
                      verify.bp, flows.bp, policies.bp, people.bp, departments.bp, account.bp, directory.bp,
                      whatif.bp, stats.bp, path.bp, archive.bp, audit.bp, upkeep.bp, compromise.bp):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    security.init_app(app)
    transactions.init_app(app)
    app.context_processor(labels.template_helpers)
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(token: str) -> User | None:
        return accounts.user_for_session(token)

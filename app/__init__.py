"""SealFlow: the application factory."""

from __future__ import annotations

from flask import Flask, request, session
from sqlalchemy import event

from config import Config, DevelopmentConfig


def select_locale() -> str | None:
    """The language chosen in the page switch, else the browser's preference."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(config: Config | None = None) -> Flask:
    """Build a SealFlow application for the given configuration (default: from the environment)."""
    config = config or DevelopmentConfig()
    app = Flask(__name__, instance_path=str(config.INSTANCE_PATH), template_folder="web/templates",
                static_folder="web/static")
    app.config.from_object(config)

    from app import cli, models  # noqa: F401  (models: register every table)
    from app.extensions import babel, csrf, db, login_manager, tune_sqlite
    from app.services import queue
    from app.web import init_app as init_web
    from app.web.guards import DatabaseIntegerConverter
    from app.workflow import evaluator

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", tune_sqlite)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    queue.init_app(app)
    evaluator.configure(app.config["EXPRESSION_CPU_SECONDS"], app.config["EXPRESSION_MEMORY_MB"])
    app.url_map.converters["int"] = DatabaseIntegerConverter  # before any route is added: every <int:…> uses it
    init_web(app)
    cli.init_app(app)
    return app

"""Flask extensions, created unbound and bound in create_app (Flask-Migrate: by bind_migrations)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that Alembic migrations work the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """Each new SQLite connection: write-ahead log, synced at checkpoints rather than at every commit.

    A crash of SealFlow loses nothing committed; a power cut may lose the last commits, never consistency.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

# Models derive from `Model`: at run time Flask-SQLAlchemy's db.Model, to the type checker the typed Base
# it is built from (mypy cannot see through db.Model).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def bind_migrations(app: Flask) -> None:
    """Bind Flask-Migrate to the app: done by the `db` commands (app/cli.py) and by code that upgrades a database,
    not by create_app, so that a web worker never imports Alembic (0.13 s)."""
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)

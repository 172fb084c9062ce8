"""The migration history has one head, and upgrading an empty database yields exactly the models' schema."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from config import TestConfig

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def test_one_head():
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_builds_the_models_schema(tmp_path, app):
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        # A throwaway database beside the test one.
        name = f"sealflow_migrate_{tmp_path.name[-8:].replace('-', '_').lower()}"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        target = url.set(database=name)
    else:
        target = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    fresh = create_app(TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=target))
    try:
        with fresh.app_context():
            upgrade(directory=str(MIGRATIONS))
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            db.engine.dispose()
        assert diff == []
    finally:
        if url.get_backend_name() == "postgresql":
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))

"""The migration history has one head, and upgrading an empty database yields exactly the models' schema."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import bind_migrations, db
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
    bind_migrations(fresh)
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


def test_seal_images_so_far_become_version_one_and_sealed_documents_name_it(tmp_path, app):
    """Upgrading a database with seals and sealed documents: each seal's image is its version 1, and each sealed
    document records the version 1 of the seal the audit log says signed it (a party's own seal included)."""
    import hashlib
    import json

    target = f"sqlite:///{tmp_path / 'data.sqlite'}"
    fresh = create_app(TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=target))
    bind_migrations(fresh)
    with fresh.app_context():
        upgrade(directory=str(MIGRATIONS), revision="5a1c7e93b2d4")
        now = "2026-11-30 10:00:00.000000"
        with db.engine.begin() as conn:
            for seal_id, image, svg in ((1, b"%PDF drawn", "<svg/>"), (2, b"%PDF uploaded", "")):
                conn.execute(text("INSERT INTO seals (id, name, kind, status, image_pdf, image_svg, certificate_pem, "
                                  "encrypted_key, created_at) VALUES (:id, :name, 'CONTRACT', 'ACTIVE', :image, :svg, "
                                  "'pem', x'00', :now)"),
                             {"id": seal_id, "name": f"Seal {seal_id}", "image": image, "svg": svg, "now": now})
            for document_id, kind in ((10, "ORIGINAL"), (11, "SEALED"), (12, "SEALED")):
                conn.execute(text("INSERT INTO documents (id, application_id, kind, version, filename, sha256, "
                                  "page_count, created_at) VALUES (:id, 5, :kind, :id, 'a.pdf', 'x', 1, :now)"),
                             {"id": document_id, "kind": kind, "now": now})
            events = [("document.sealed", {"document_id": 11, "seal_id": 1}),
                      ("document.signed", {"document_id": 12, "seal_id": 2, "party": 2})]
            for number, (action, details) in enumerate(events):
                conn.execute(text("INSERT INTO audit_events (at, actor_name, action, object_type, object_id, details, "
                                  "prev_hash, hash) VALUES (:now, 'worker', :action, 'seal_application', '5', "
                                  ":details, :prev, :hash)"),
                             {"now": now, "action": action, "details": json.dumps(details), "prev": str(number),
                              "hash": f"h{number}"})
        upgrade(directory=str(MIGRATIONS))
        with db.engine.connect() as conn:
            images = conn.execute(text("SELECT id, seal_id, version, image_pdf, sha256, source FROM seal_images "
                                       "ORDER BY seal_id")).all()
            documents = dict(conn.execute(text("SELECT id, seal_image_id FROM documents")).all())
            versions = conn.execute(text("SELECT image_version FROM seals")).scalars().all()
        # Down again: each seal keeps its current image.
        downgrade(directory=str(MIGRATIONS), revision="5a1c7e93b2d4")
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT image_pdf FROM seals ORDER BY id")).scalars().all()
        db.engine.dispose()
    assert kept == [b"%PDF drawn", b"%PDF uploaded"]
    assert [(i.seal_id, i.version, i.image_pdf, i.source) for i in images] == [
        (1, 1, b"%PDF drawn", "drawn"), (2, 1, b"%PDF uploaded", "uploaded")]
    assert images[0].sha256 == hashlib.sha256(b"%PDF drawn").hexdigest()
    assert documents == {10: None, 11: images[0].id, 12: images[1].id} and versions == [1, 1]


def test_events_chained_so_far_keep_their_chain_with_positions_in_id_order(tmp_path, app):
    """Upgrading a log written by the old code (chained at once, in id order, ids with gaps): each event's position
    is its rank, the chain still verifies, and a new event joins after them once chained."""
    import json

    from app.models.audit import Actor, record
    from app.services import audit
    from tools.verify_audit import GENESIS, event_digest

    target = f"sqlite:///{tmp_path / 'log.sqlite'}"
    fresh = create_app(TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=target))
    bind_migrations(fresh)
    with fresh.app_context():
        upgrade(directory=str(MIGRATIONS), revision="a1c3e5f7b9d2")
        prev = GENESIS
        with db.engine.begin() as conn:
            for event_id in (3, 7, 8):  # gaps: rolled-back transactions used ids 1, 2, 4–6
                event = {"prev": prev, "at": f"2026-11-30T10:00:0{event_id}.000000", "actor_id": None,
                         "actor": "worker", "action": "thing.done", "object": ["thing", str(event_id)],
                         "address": None, "details": {"n": event_id}}
                digest = event_digest(event)
                conn.execute(text("INSERT INTO audit_events (id, at, actor_name, action, object_type, object_id, "
                                  "details, prev_hash, hash) VALUES (:id, :at, 'worker', 'thing.done', 'thing', "
                                  ":object_id, :details, :prev, :hash)"),
                             {"id": event_id, "at": event["at"].replace("T", " "), "object_id": str(event_id),
                              "details": json.dumps(event["details"]), "prev": prev, "hash": digest})
                prev = digest
        upgrade(directory=str(MIGRATIONS))
        with db.engine.connect() as conn:
            positions = conn.execute(text("SELECT id, seq FROM audit_events ORDER BY id")).all()
        assert [tuple(p) for p in positions] == [(3, 1), (7, 2), (8, 3)]
        assert audit.verify_chain() == [] and audit.chain_head() == prev
        record(Actor.system("test"), "thing.done", "thing", 9)
        assert audit.extend_chain() == 1
        db.session.commit()
        assert audit.verify_chain() == []
        db.session.remove()
        db.engine.dispose()


def test_content_stored_before_the_check_mark_has_none_and_is_walked_again(tmp_path, app):
    """Upgrading keeps every blob and marks none of them as checked (the worker walks them as before); downgrading
    drops the mark and keeps the content."""
    target = f"sqlite:///{tmp_path / 'blobs.sqlite'}"
    fresh = create_app(TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=target))
    bind_migrations(fresh)
    with fresh.app_context():
        upgrade(directory=str(MIGRATIONS), revision="c3e5a7b9d1f2")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO blobs (sha256, size, content, created_at) VALUES ('ab', 4, x'25504446', "
                              "'2026-12-01 10:00:00.000000')"))
        upgrade(directory=str(MIGRATIONS), revision="d4f6b8c0e2a3")
        with db.engine.connect() as conn:
            marks = conn.execute(text("SELECT sha256, checked_max_decoded, check_version FROM blobs")).all()
        downgrade(directory=str(MIGRATIONS), revision="c3e5a7b9d1f2")
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT * FROM blobs")).mappings().all()
        db.engine.dispose()
    assert [tuple(m) for m in marks] == [("ab", None, None)]
    assert [dict(k) for k in kept] == [{"sha256": "ab", "size": 4, "content": b"%PDF",
                                        "created_at": "2026-12-01 10:00:00.000000"}]

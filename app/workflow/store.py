"""Loading and saving process instances while holding a lock on their row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import joinedload, undefer

from app.errors import NotFound
from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.workflow.serializer import ProcessSpecs, dump_state, load_state, specs_from_dict

# A deployed definition never changes (a changed diagram deploys as a new version), so its specs are rebuilt
# once per process, not at every step; the content hash is part of the key because another database (a test's)
# may give the same id to other content.
_specs: dict[tuple[int, str], ProcessSpecs] = {}
_SPECS_KEPT = 64


# Built once (statements are immutable): a step's few statements are on every step's path.
_SQLITE_WRITE_LOCK = text("UPDATE process_instances SET id = id WHERE id = :id")
_LOCKED = (
    select(ProcessInstance)
    .where(ProcessInstance.id == bindparam("id"))
    .with_for_update(of=ProcessInstance)
    .options(undefer(ProcessInstance.state), joinedload(ProcessInstance.definition, innerjoin=True))
    .execution_options(populate_existing=True)
)


def lock_instance(instance_id: int) -> ProcessInstance:
    """The instance row, locked until the transaction ends (SELECT ... FOR UPDATE on PostgreSQL).

    populate_existing: what this transaction saw earlier may be stale once the lock is held. The state and the
    definition (not its spec) come in the same query, since every caller but fail_instance loads them next; only
    the instance row is locked.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks, and pysqlite reads outside any transaction: write to the row first, so
        # that this connection takes the database's write lock (waiting for another writer to finish)
        # before it reads the state it will change.
        db.session.execute(_SQLITE_WRITE_LOCK, {"id": instance_id})
    instance = db.session.execute(_LOCKED, {"id": instance_id}).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def specs_of(definition: ProcessDefinition) -> ProcessSpecs:
    """The definition's process as SpiffWorkflow specs, shared by all its instances (SpiffWorkflow never changes
    a spec while it runs)."""
    key = (definition.id, definition.content_hash)
    specs = _specs.get(key)
    if specs is None:
        if len(_specs) >= _SPECS_KEPT:
            _specs.clear()
        specs = _specs[key] = specs_from_dict(definition.spec_json)
    return specs


def load(instance: ProcessInstance) -> Any:
    """The SpiffWorkflow workflow of a locked instance."""
    return load_state(specs_of(instance.definition), instance.state)


def save(instance: ProcessInstance, workflow: Any) -> None:
    """Store the workflow's state on the instance row (flushed; the caller commits)."""
    instance.state = dump_state(workflow)
    db.session.flush()

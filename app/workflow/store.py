"""Loading and saving process instances while holding a lock on their row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from app.errors import NotFound
from app.extensions import db
from app.models import ProcessInstance
from app.workflow.serializer import dump_state, load_state


def lock_instance(instance_id: int) -> ProcessInstance:
    """The instance row, locked until the transaction ends (SELECT ... FOR UPDATE on PostgreSQL).

    populate_existing: what this transaction saw earlier may be stale once the lock is held.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks, and pysqlite reads outside any transaction: write to the row first, so
        # that this connection takes the database's write lock (waiting for another writer to finish)
        # before it reads the state it will change.
        db.session.execute(text("UPDATE process_instances SET id = id WHERE id = :id"), {"id": instance_id})
    query = (
        select(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    instance = db.session.execute(query).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def load(instance: ProcessInstance) -> Any:
    """The SpiffWorkflow workflow of a locked instance."""
    return load_state(instance.definition.spec_json, instance.state)


def save(instance: ProcessInstance, workflow: Any) -> None:
    """Store the workflow's state on the instance row (flushed; the caller commits)."""
    instance.state = dump_state(workflow)
    db.session.flush()

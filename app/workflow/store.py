"""Loading and saving process instances: read without a lock, claimed by revision, saved."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import joinedload, undefer
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import NotFound
from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.models.timestamps import utcnow
from app.workflow.serializer import ProcessSpecs, dump_state, load_state, specs_from_dict

# A deployed definition never changes (a changed diagram deploys as a new version), so its specs are rebuilt
# once per process, not at every step; the content hash is part of the key because another database (a test's)
# may give the same id to other content.
_specs: dict[tuple[int, str], ProcessSpecs] = {}
_SPECS_KEPT = 64


# Built once (statements are immutable): a step's few statements are on every step's path.
_READ = (
    select(ProcessInstance)
    .where(ProcessInstance.id == bindparam("id"))
    .options(undefer(ProcessInstance.state), joinedload(ProcessInstance.definition, innerjoin=True))
    .execution_options(populate_existing=True)
)
_CLAIM = text("UPDATE process_instances SET revision = revision + 1 WHERE id = :id AND revision = :revision")
_TAKE = text("UPDATE process_instances SET revision = revision + 1 WHERE id = :id")


def read_instance(instance_id: int) -> ProcessInstance:
    """The instance row as last committed, with its state and definition (not its spec), without a lock: a step
    runs the process on it, then claims it.

    populate_existing: what this session saw earlier may be stale (another step, a retry after losing a claim).
    """
    with db.session.no_autoflush:  # the step's caller may have changed rows already: they go with its save
        instance = db.session.execute(_READ, {"id": instance_id}).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def claim(instance: ProcessInstance) -> bool:
    """Lock the row for the rest of the transaction if it is still at the revision read; False when another step
    came first (its work is on the row now: the step must be run again on it).

    The UPDATE is the lock: SQLite's write lock, PostgreSQL's row lock. Run after the step's expressions, so
    that no lock is held while they run (they may take up to the evaluator's limits).
    """
    # On the session's connection: the session's pending changes go with the step's own flush.
    result = db.session.connection().execute(_CLAIM, {"id": instance.id, "revision": instance.revision})
    claimed: bool = result.rowcount == 1
    if claimed:
        set_committed_value(instance, "revision", instance.revision + 1)
    return claimed


def lock_instance(instance_id: int) -> ProcessInstance:
    """The instance row, locked until the transaction ends, for a change that runs no expression (cancelling,
    failing): taken at once, whatever its revision, which it advances."""
    db.session.execute(_TAKE, {"id": instance_id})
    return read_instance(instance_id)


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
    """The SpiffWorkflow workflow of an instance."""
    return load_state(specs_of(instance.definition), instance.state)


_INSTANCES = cast(Table, ProcessInstance.__table__)
_SAVE = (update(_INSTANCES).where(_INSTANCES.c.id == bindparam("instance_id"))
         .values(state=bindparam("state"), status=bindparam("status"), outcome=bindparam("outcome"),
                 updated_at=bindparam("now")))


def save(instance: ProcessInstance, workflow: Any) -> None:
    """Store the workflow's state, and the instance's status and outcome, on its row (the step's other rows go with
    the session's next flush: its commit, or a query; the caller commits).

    A plain UPDATE on the session's connection: through the unit of work, the ORM would compare the old state
    with the new one, value by value, to find that it changed (it always has), and flush the row on its own."""
    values = {"state": dump_state(workflow), "status": instance.status, "outcome": instance.outcome}
    for key, value in values.items():
        set_committed_value(instance, key, value)  # written below, not by the flush
    db.session.connection().execute(_SAVE, {"instance_id": instance.id, "now": utcnow(), **values})

"""Tamper trials: a real history (applications filed, approved, rejected, sealed by a real worker, the chain anchored
after each), then more than a hundred ways of editing it behind SealFlow's back. Every one must be reported, by
`flask audit verify` on the database and by tools/verify_audit.py on the exported bundle.

Each trial edits the test's own database inside a transaction that the command under test rolls back, so the next
trial starts from the untouched history (the CLI's check and export only read)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Table, select, text, update

from app.extensions import db
from app.models import ApplicationStatus, AuditEvent, HumanTask, SealApplication, TaskState, User
from app.models.audit import Actor, as_record
from app.services import applications, approvals, audit
from app.services.applications import ApplicationSpec
from tests.conftest import Org, corpus_pdf, work_off_queue
from tools import verify_audit

ACTOR = Actor.system("test")
EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]


def _file(org: Org, counterparty: str) -> int:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the supply contract",
                           title=f"Supply contract with {counterparty}", counterparty=counterparty)
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application.id


def _decide(org: Org, decision: str) -> None:
    task = approvals.inbox(org.head)[-1]  # the newest: the application just filed (oldest first)
    approvals.decide(task.id, org.head, decision, f"{decision}d", Actor.of(org.head))
    db.session.commit()


def _chain_and_anchor() -> None:
    while audit.extend_chain():
        db.session.commit()
    assert audit.anchor_head() is not None
    db.session.commit()


@pytest.fixture
def history(app: Flask, org: Org) -> dict[str, Any]:
    sealed = _file(org, "上海远航物流有限公司")
    _decide(org, "approve")
    work_off_queue(app)
    _chain_and_anchor()
    rejected = _file(org, "Acme Ltd")
    _decide(org, "reject")
    _chain_and_anchor()
    pending = _file(org, "Globex")
    _chain_and_anchor()
    sealed_last = _file(org, "北京长城贸易")
    _decide(org, "approve")
    work_off_queue(app)
    _chain_and_anchor()
    assert audit.check_log().problems == []
    statuses = dict(db.session.execute(select(SealApplication.id, SealApplication.status)).all())
    assert [statuses[i] for i in (sealed, rejected, pending, sealed_last)] == [
        ApplicationStatus.SEALED, ApplicationStatus.REJECTED, ApplicationStatus.PENDING, ApplicationStatus.SEALED]
    return {"sealed": sealed, "rejected": rejected, "pending": pending, "sealed_last": sealed_last}


# --- tampering helpers -------------------------------------------------------------------------------------------

def _rows() -> list[Any]:
    return db.session.execute(select(EVENTS).order_by(EVENTS.c.seq)).all()


def _set(event_id: int, **values: Any) -> None:
    db.session.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(**values))


def _flip_text(value: str) -> str:
    """One character changed (a hex digit or a letter stays one)."""
    last = value[-1]
    return value[:-1] + ("1" if last == "0" else "0" if last.isdigit() or last in "abcdef" else chr(ord(last) ^ 1))


def _flip_field(position: int, field: str) -> Callable[[], None]:
    def tamper() -> None:
        row = _rows()[position]
        value = getattr(row, field)
        if field == "at":
            new: Any = value + timedelta(microseconds=1)
        elif field == "actor_id":
            others = db.session.execute(select(User.id).where(User.id != value)).scalars().first()
            new = others
        elif field == "seq":
            new = value + 2**20
        elif field == "details":
            new = {**value, "note": "x"} if "note" not in value else {**value, "note": value["note"] + "x"}
        elif value is None:
            new = "10.0.0.9"
        else:
            new = _flip_text(str(value))
        _set(row.id, **{field: new})
    return tamper


def _delete(positions: Callable[[int], list[int]]) -> Callable[[], None]:
    def tamper() -> None:
        rows = _rows()
        for index in positions(len(rows)):
            db.session.execute(EVENTS.delete().where(EVENTS.c.id == rows[index].id))
    return tamper


def _renumber_from(position: int, by: int) -> None:
    """Shift the chain positions after `position` (two steps: positions are unique at every row)."""
    db.session.execute(text("UPDATE audit_events SET seq = -seq WHERE seq > :p"), {"p": position})
    db.session.execute(text("UPDATE audit_events SET seq = -seq + :by WHERE seq < 0"), {"by": by})


def _relink(start: int) -> None:
    """Recompute every hash from chain position `start` (1-based) on, as a forger with database access would."""
    rows = _rows()
    prev = rows[start - 2].hash if start > 1 else verify_audit.GENESIS
    for row in rows[start - 1:]:
        record = {**as_record(row), "prev": prev}
        digest = verify_audit.event_digest(record)
        _set(row.id, prev_hash=prev, hash=digest)
        prev = digest


def _insert(position: int, relink: bool = False) -> Callable[[], None]:
    def tamper() -> None:
        rows = _rows()
        before, after = rows[position - 1], rows[position]
        _set(after.id, prev_hash=None)  # the fake takes its place after `before` (predecessors are unique)
        _renumber_from(before.seq, 1)
        fake = {"seq": before.seq + 1, "id": 10_000 + position, "at": before.at.isoformat(timespec="microseconds"),
                "actor_id": None, "actor": "mallory", "action": "task.completed", "object": ["process_instance", "1"],
                "address": None, "details": {"decision": "approve"}, "prev": before.hash}
        db.session.execute(EVENTS.insert().values(
            id=fake["id"], seq=fake["seq"], at=before.at, actor_id=None, actor_name="mallory",
            action="task.completed", object_type="process_instance", object_id="1", address=None,
            details=fake["details"], prev_hash=fake["prev"],
            hash=verify_audit.event_digest(fake)))
        if relink:
            _relink(fake["seq"] + 1)
        else:
            _set(after.id, prev_hash=verify_audit.event_digest(fake))
    return tamper


def _swap(position: int) -> Callable[[], None]:
    """Two neighbours change places in the chain."""
    def tamper() -> None:
        rows = _rows()
        first, second = rows[position], rows[position + 1]
        _set(first.id, seq=-1)
        _set(second.id, seq=first.seq)
        _set(first.id, seq=second.seq)
    return tamper


def _swap_contents(position: int, other: int) -> Callable[[], None]:
    def tamper() -> None:
        rows = _rows()
        a, b = rows[position], rows[other]
        fields = ("at", "actor_id", "actor_name", "action", "object_type", "object_id", "address", "details")
        _set(a.id, **{f: getattr(b, f) for f in fields})
        _set(b.id, **{f: getattr(a, f) for f in fields})
    return tamper


def _recompute_after_edit(position: int, drop_anchors: bool = False) -> Callable[[], None]:
    def tamper() -> None:
        row = _rows()[position - 1]
        _set(row.id, actor_name="mallory")
        _relink(position)
        if drop_anchors:
            db.session.execute(text("DELETE FROM audit_anchors"))
    return tamper


def _recompute_after_deletion(position: int) -> Callable[[], None]:
    def tamper() -> None:
        row = _rows()[position - 1]
        db.session.execute(EVENTS.delete().where(EVENTS.c.id == row.id))
        _renumber_from(position, -1)
        _relink(position)
    return tamper


def _drop_tail_with_its_anchor(count: int) -> Callable[[], None]:
    def tamper() -> None:
        rows = _rows()
        for row in rows[-count:]:
            db.session.execute(EVENTS.delete().where(EVENTS.c.id == row.id))
        db.session.execute(text("DELETE FROM audit_anchors WHERE seq > :s"), {"s": rows[-count - 1].seq})
    return tamper


def _task(completed: bool, index: int = 0) -> HumanTask:
    state = TaskState.COMPLETED if completed else TaskState.READY
    return db.session.execute(select(HumanTask).where(HumanTask.state == state).order_by(HumanTask.id)).scalars().all()[
        index]


def _edit_task(index: int, **values: Any) -> Callable[[], None]:
    def tamper() -> None:
        task = _task(True, index)
        if values.get("completed_by_id") == "other":
            values["completed_by_id"] = db.session.execute(select(User.id).where(
                User.id != task.completed_by_id)).scalars().first()
        db.session.execute(update(HumanTask).where(HumanTask.id == task.id).values(**values))
    return tamper


def _decide_ready_task_by_hand() -> None:
    task = _task(False)
    db.session.execute(update(HumanTask).where(HumanTask.id == task.id).values(
        state=TaskState.COMPLETED, decision="approve", completed_by_id=task.assignee_id or 1))


def _set_status(key: str, status: str) -> Callable[[dict[str, Any]], None]:
    def tamper(history: dict[str, Any]) -> None:
        db.session.execute(update(SealApplication).where(SealApplication.id == history[key])
                           .values(status=ApplicationStatus(status)))
    return tamper


@dataclass(frozen=True)
class Trial:
    name: str
    tamper: Callable[..., None]
    needs_history: bool = False


def _trials() -> list[Trial]:
    fields = ("at", "actor_id", "actor_name", "action", "object_type", "object_id", "address", "details",
              "prev_hash", "hash", "seq")
    positions = (0, 5, 17, 30, -8, -2, -1)  # the first event, some in the middle, the newest ones
    trials = [Trial(f"flip {f} of event [{p}]", _flip_field(p, f)) for p in positions for f in fields]
    trials += [Trial(f"delete event [{p}]", _delete(lambda n, p=p: [p])) for p in (0, 3, 11, 22, 35)]
    trials += [Trial("delete events [10:13]", _delete(lambda n: [10, 11, 12]))]
    trials += [Trial(f"delete the {k} newest", _delete(lambda n, k=k: list(range(n - k, n)))) for k in (1, 2, 5)]
    trials += [Trial(f"delete the {k} newest and their anchor", _drop_tail_with_its_anchor(k)) for k in (1, 3, 6)]
    trials += [Trial(f"insert after #{p}", _insert(p)) for p in (1, 8, 20, 33)]
    trials += [Trial(f"insert after #{p} and relink", _insert(p, relink=True)) for p in (2, 15, 28)]
    trials += [Trial(f"swap [{p}] and its successor", _swap(p)) for p in (0, 6, 19, 31, -2)]
    trials += [Trial(f"swap contents of [{a}] and [{b}]", _swap_contents(a, b)) for a, b in ((1, 2), (9, 24), (3, -1))]
    trials += [Trial(f"edit #{p} and recompute the chain", _recompute_after_edit(p)) for p in (1, 12, 25, 34)]
    trials += [Trial(f"edit #{p}, recompute, drop every anchor", _recompute_after_edit(p, True)) for p in (4, 30)]
    trials += [Trial(f"delete #{p} and recompute the chain", _recompute_after_deletion(p)) for p in (3, 21, 33)]
    for index in (0, 1):
        trials += [
            Trial(f"task [{index}] decided by someone else", _edit_task(index, completed_by_id="other")),
            Trial(f"task [{index}] decision changed", _edit_task(index, decision=("reject", "approve")[index])),
            Trial(f"task [{index}] on behalf of someone", _edit_task(index, on_behalf_of_id=1)),
            Trial(f"task [{index}] on another document", _edit_task(index, document_sha256="ab" * 32)),
            Trial(f"task [{index}] undecided", _edit_task(index, state=TaskState.READY)),
        ]
    trials += [Trial("a ready task decided by hand", _decide_ready_task_by_hand)]
    for key, status in (("sealed", "rejected"), ("rejected", "sealed"), ("pending", "sealed"), ("pending", "sealing"),
                        ("sealed_last", "withdrawn"), ("rejected", "pending")):
        trials.append(Trial(f"application {key} set to {status}", _set_status(key, status), needs_history=True))
    return trials


TRIALS = _trials()


def _apply(trial: Trial, history: dict[str, Any]) -> None:
    if trial.needs_history:
        trial.tamper(history)
    else:
        trial.tamper()


def test_every_tamper_trial_is_detected_by_the_cli_and_offline(app: Flask, history: dict[str, Any], tmp_path: Path):
    assert len(TRIALS) >= 100
    runner = app.test_cli_runner()
    missed_cli, missed_offline = [], []
    for number, trial in enumerate(TRIALS):
        _apply(trial, history)
        verified = runner.invoke(args=["audit", "verify"])  # reads the tampered rows, then rolls back
        if verified.exit_code != 1 or "problem(s)" not in verified.output:
            missed_cli.append(trial.name)
        _apply(trial, history)
        bundle = tmp_path / f"trial{number}"
        exported = runner.invoke(args=["audit", "export", str(bundle)])
        assert exported.exit_code == 0, exported.output
        if verify_audit.main([str(bundle)]) != 1:
            missed_offline.append(trial.name)
    print(f"tamper trials: {len(TRIALS)}; detected by flask audit verify: {len(TRIALS) - len(missed_cli)}; "
          f"by tools/verify_audit.py: {len(TRIALS) - len(missed_offline)}")
    assert missed_cli == [] and missed_offline == []
    # The history itself is untouched after all that.
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_the_untouched_history_passes_both_checks(app: Flask, history: dict[str, Any], tmp_path: Path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["audit", "export", str(tmp_path / "b")]).exit_code == 0
    assert verify_audit.main([str(tmp_path / "b")]) == 0
    sealed = [json.loads(line) for line in (tmp_path / "b" / "documents.jsonl").read_text().splitlines()]
    assert {item["application_id"] for item in sealed} == {history["sealed"], history["sealed_last"]}

"""The audit chain under concurrent writers on PostgreSQL: chained events per second against the same inserts without
the chain (the floor), 16 writers by default.

Run by hand: `.venv/bin/python bench/audit.py [--writers 16] [--seconds 8] [--rounds 2] [--postgres URL]`.

Each writer is a process of its own (as gunicorn workers and RQ workers are), in an app context, committing
transactions of --events-per-step events written with app.models.audit.record (a step records several). Modes, taking
turns round by round on one throwaway database so that the machine's busy spells fall on all of them alike:

* floor: the writers' inserts alone, nothing chains them; events/s = events committed / time the writers ran;
* chained (SealFlow): the same writers, and one sequencer process calling app.services.audit.extend_chain() and
  committing in a loop, as the clock does each tick; events/s = events written / time until the last one is chained;
* locked (the design this replaced, for comparison): each step takes the chain's advisory lock at its first event,
  reads the head and links its events as it writes them, holding the lock until commit.

The last lines are `chained_events_per_second=…`, `floor_events_per_second=…` and `audit_chain_ratio=<chained/floor>`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from sqlalchemy import func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AuditEvent  # noqa: E402
from app.models.audit import Actor, as_record, record  # noqa: E402
from app.models.timestamps import utcnow  # noqa: E402
from app.services import audit  # noqa: E402
from bench.workflow import throwaway_database  # noqa: E402  (one throwaway database for every bench)
from config import TestConfig  # noqa: E402
from tools.verify_audit import GENESIS, event_digest  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
ACTOR = Actor(None, "approver", "10.0.0.7")  # no users table rows needed
MODES = ("floor", "chained", "locked")


def _app(uri: str, instance: Path) -> Any:
    return create_app(TestConfig(instance, SQLALCHEMY_DATABASE_URI=uri))


def _step(writer: int, step: int, events: int) -> None:
    """What an approval step writes to the log: a few events about one application."""
    for number in range(events):
        record(ACTOR, "task.completed", "process_instance", writer * 1_000_000 + step, number=number,
               decision="approve", comment="fine", data={"amount": 125000.0, "decision": "approve"})


def _locked_step(writer: int, step: int, events: int) -> None:
    """The replaced design: the chain locked from the step's first event until its commit, each event linked as it
    is written."""
    connection = db.session.connection()
    connection.execute(text("SELECT pg_advisory_xact_lock(7203010)"))
    row = connection.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None))
                             .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, head = (row.seq, row.hash) if row else (0, GENESIS)
    for number in range(events):
        event = AuditEvent(at=utcnow(), actor_id=ACTOR.user_id, actor_name=ACTOR.name, action="task.completed",
                           object_type="process_instance", object_id=str(writer * 1_000_000 + step),
                           address=ACTOR.address, details={"number": number, "decision": "approve", "comment": "fine",
                                                           "data": {"amount": 125000.0, "decision": "approve"}})
        seq += 1
        event.seq, event.prev_hash = seq, head
        head = event.hash = event_digest(as_record(event))
        connection.execute(insert(AuditEvent.__table__), {column.key: getattr(event, column.key)
                                                          for column in AuditEvent.__table__.columns
                                                          if column.key != "id"})


def writer_process(uri: str, instance: str, mode: str, writer: int, seconds: float, events: int,
                   start_at: float, counts: Any) -> None:
    app = _app(uri, Path(instance))
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connect before the start line
        db.session.commit()
        while time.time() < start_at:
            time.sleep(0.001)
        step = 0
        while time.time() < start_at + seconds:
            (_locked_step if mode == "locked" else _step)(writer, step, events)
            db.session.commit()
            step += 1
        counts[writer] = step * events
        db.session.remove()


def sequencer_process(uri: str, instance: str, start_at: float, stop: Any, finished: Any) -> None:
    """Chains in a loop, as the clock would if it ticked without pause; notes when it last chained anything."""
    app = _app(uri, Path(instance))
    with app.app_context():
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            linked = audit.extend_chain()
            db.session.commit()
            if linked:
                finished.value = time.time()
            elif stop.is_set():
                pending = db.session.execute(select(func.count()).where(AuditEvent.seq.is_(None))).scalar()
                db.session.commit()
                if not pending:
                    return
            else:
                time.sleep(0.01)


def run_mode(uri: str, instance: Path, mode: str, writers: int, seconds: float, events: int) -> tuple[int, float]:
    """Events written in the round, and the seconds from the start until they were committed (floor, locked) or
    chained (chained)."""
    context = multiprocessing.get_context("fork")
    counts = context.Array("q", writers)
    stop, finished = context.Event(), context.Value("d", 0.0)
    start_at = time.time() + 1.5  # every process connected and waiting
    processes = [context.Process(target=writer_process, args=(uri, str(instance), mode, w, seconds, events, start_at,
                                                               counts)) for w in range(writers)]
    sequencer = None
    if mode == "chained":
        sequencer = context.Process(target=sequencer_process, args=(uri, str(instance), start_at, stop, finished))
        sequencer.start()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"{mode}: a writer failed (exit code {process.exitcode})")
    written_at = time.time()
    if sequencer is not None:
        stop.set()
        sequencer.join()
        done_at = max(finished.value, written_at)
    else:
        done_at = written_at
    return sum(counts), done_at - start_at


def _clear(uri: str, instance: Path) -> None:
    app = _app(uri, instance)
    with app.app_context():
        db.session.execute(text("TRUNCATE audit_events RESTART IDENTITY"))
        db.session.commit()
        db.engine.dispose()


def report(postgres: str, writers: int, seconds: float, rounds: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, throwaway_database(postgres) as uri:
        if uri is None:
            raise SystemExit("this bench needs PostgreSQL")
        instance = Path(tmp)
        app = _app(uri, instance)
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        totals = {mode: [0, 0.0] for mode in MODES}
        for number in range(rounds):
            for mode in MODES:
                _clear(uri, instance)
                written, took = run_mode(uri, instance, mode, writers, seconds, events)
                if mode != "floor":
                    with app.app_context():
                        assert audit.verify_chain() == [], f"{mode}: the chain does not verify"
                        chained = db.session.execute(select(func.count()).where(AuditEvent.seq.is_not(None))).scalar()
                        assert chained == written, f"{mode}: {chained} of {written} events chained"
                        db.session.remove()
                        db.engine.dispose()
                totals[mode][0] += written
                totals[mode][1] += took
                print(f"round {number + 1} {mode:<8} {written:>7} events in {took:6.2f} s: "
                      f"{written / took:8.0f} events/s", flush=True)
    rates = {mode: totals[mode][0] / totals[mode][1] for mode in MODES}
    print(f"{writers} writers, {events} events per step, {rounds} round(s) of {seconds:g} s per mode")
    for mode in MODES:
        print(f"{mode:<8} {rates[mode]:8.0f} events/s  ratio_to_floor={rates[mode] / rates['floor']:.2f}")
    print(f"chained_events_per_second={rates['chained']:.0f}")
    print(f"floor_events_per_second={rates['floor']:.0f}")
    print(f"locked_chain_ratio={rates['locked'] / rates['floor']:.2f}")
    print(f"audit_chain_ratio={rates['chained'] / rates['floor']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events-per-step", type=int, default=4)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    report(args.postgres, args.writers, args.seconds, args.rounds, args.events_per_step)


if __name__ == "__main__":
    main()

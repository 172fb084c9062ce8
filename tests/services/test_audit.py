"""The audit log as evidence: events chained after commit (writers never wait for each other), the head anchored by
the TSA, the log checked against its anchors, the sealed documents and the state, and exported for offline checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text

from app.extensions import db
from app.models import AuditAnchor, AuditEvent
from app.models.audit import GENESIS, Actor, record
from app.services import audit, keys
from tests.conftest import Org
from tools import verify_audit

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor(None, "tester", "10.0.0.1")


def _events(count: int = 3) -> list[AuditEvent]:
    events = [record(ACTOR, "thing.done", "thing", i, note=f"n{i}", 名字="印章") for i in range(count)]
    db.session.commit()
    return events


def _chain() -> int:
    linked = audit.extend_chain()
    db.session.commit()
    return linked


def test_a_transactions_events_are_written_together_read_back_and_dropped_with_it(app: Flask):
    """record keeps events until the session commits or runs a statement that may read them (which then sees them),
    then writes them in one statement, in order; a rollback takes them away unwritten."""
    inserts: list[str] = []

    def count(conn, statement, multiparams, params, execution_options):  # noqa: ANN001, ARG001
        if str(statement).lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            inserts.append(str(statement))  # once per statement run (SQLite's driver may then split its rows)

    event.listen(db.engine, "before_execute", count)
    try:
        dropped = record(ACTOR, "thing.dropped", "thing", 0)
        db.session.rollback()
        kept = [record(ACTOR, "thing.kept", "thing", i) for i in range(3)]
        db.session.execute(select(func.count(AuditAnchor.seq)))  # a statement that cannot see them: they wait
        assert inserts == []
        seen = db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("thing.%"))).scalars().all()
        assert seen == ["thing.kept"] * 3 and len(inserts) == 1
        last = record(ACTOR, "thing.last", "thing", 3)
        db.session.commit()
        assert len(inserts) == 2
    finally:
        event.remove(db.engine, "before_execute", count)
    written = db.session.execute(select(AuditEvent.id, AuditEvent.action).where(AuditEvent.action.like("thing.%"))
                                 .order_by(AuditEvent.id)).all()
    assert [tuple(row) for row in written] == [(e.id, e.action) for e in [*kept, last]] and dropped.id is None


def test_events_are_written_unchained_and_chained_after_commit_in_order(app: Flask):
    events = _events()
    rows = db.session.execute(select(AuditEvent.seq, AuditEvent.hash)).all()
    assert rows and all(row.seq is None and row.hash is None for row in rows)
    assert _chain() == 3 and _chain() == 0
    chained = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [e.id for e in chained] == [e.id for e in events] and [e.seq for e in chained] == [1, 2, 3]
    assert chained[0].prev_hash == GENESIS and chained[1].prev_hash == chained[0].hash
    assert audit.verify_chain() == [] and audit.chain_head() == chained[2].hash
    _events(2)
    assert _chain() == 2
    assert audit.verify_chain() == [] and len(audit.chain_head()) == 64


def test_a_batch_chains_the_oldest_first_and_the_rest_waits(app: Flask):
    _events(5)
    assert audit.extend_chain(batch=2) == 2
    db.session.commit()
    assert [s for s in db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.id)).scalars()] == [
        1, 2, None, None, None]
    assert _chain() == 3 and audit.verify_chain() == []


def test_edit_is_detected(app: Flask):
    events = _events()
    _chain()
    db.session.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    assert audit.verify_chain() == [
        f"event #2 (id {events[1].id}): its content does not match its hash (changed after it was written)"]


def test_deletion_is_detected(app: Flask):
    events = _events()
    _chain()
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    assert audit.verify_chain() == [
        f"event #3 (id {events[2].id}): at chain position 2: events are missing, inserted or reordered",
        f"event #3 (id {events[2].id}): does not follow the event before it"]


def test_writers_do_not_wait_for_each_other_on_the_chain(app: Flask):
    """One transaction holds unwritten events while another records and commits: on PostgreSQL the second never
    waits (it would have, behind the old chain lock, until the first committed). SQLite has one writer anyway."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises all writers")
    record(ACTOR, "slow.step", "thing", 1)
    _write()  # inserted; this transaction stays open
    finished = threading.Event()

    def other_writer() -> None:
        with app.app_context():
            record(ACTOR, "quick.step", "thing", 2)
            db.session.commit()
            db.session.remove()
        finished.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    thread.join(timeout=30)
    assert finished.is_set(), "the second writer waited for the first one's commit"
    # The later id committed first: it is chained first, and the earlier id joins at the next extension.
    assert _chain() == 2  # the first transaction's event committed by this commit, before chaining
    order = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert sorted(order) == ["quick.step", "slow.step"] and audit.verify_chain() == []


def _write() -> None:
    """Write the session's pending events, as any statement it runs does, without committing them."""
    db.session.execute(select(AuditEvent.id).limit(1))


def test_an_event_committed_after_a_later_one_is_chained_after_it(app: Flask):
    """Ids are taken at insert, commits happen in any order: the chain follows what was committed when it grew."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises all writers")
    early = record(ACTOR, "early.id", "thing", 1)
    _write()  # it has its id, not committed yet
    with app.app_context():
        late = record(ACTOR, "late.id", "thing", 2)
        db.session.commit()
        assert audit.extend_chain() == 1  # only the committed one
        db.session.commit()
        db.session.remove()
    db.session.commit()
    assert _chain() == 1
    order = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.seq)).scalars().all()
    assert order == [late.id, early.id] and audit.verify_chain() == []


def test_the_head_is_anchored_once_per_move_with_a_token_over_the_head(app: Flask, org: Org):
    _events()
    _chain()
    anchor = audit.anchor_head()
    db.session.commit()
    assert anchor is not None and anchor.head_hash == audit.chain_head()
    assert audit.anchor_head() is None  # the head did not move
    verify_audit.token_time(anchor.token, anchor.head_hash, keys.trust_roots(), [keys.tsa_certificate()])
    with pytest.raises(ValueError, match="not over this head"):
        verify_audit.token_time(anchor.token, "ab" * 32, keys.trust_roots(), [keys.tsa_certificate()])
    _events(1)
    _chain()
    second = audit.anchor_head()
    assert second is not None and second.seq == anchor.seq + 1 and second.head_hash == audit.chain_head()
    assert audit.check_log().problems == []


def test_deleting_the_newest_events_no_longer_matches_the_anchor(app: Flask, org: Org):
    _events(4)
    _chain()
    audit.anchor_head()
    db.session.commit()
    newest = db.session.execute(select(func.max(AuditEvent.seq))).scalar()
    db.session.execute(text("DELETE FROM audit_events WHERE seq >= :seq"), {"seq": newest - 1})
    db.session.commit()
    assert audit.verify_chain() == []  # what is left is a well-formed chain…
    problems = audit.check_log().problems  # …that no longer reaches its anchor
    assert problems == [f"anchor of #{newest} ({_anchor_at()}): the log no longer holds event #{newest}: events were "
                        "deleted"]


def test_a_recomputed_chain_no_longer_matches_the_anchor(app: Flask, org: Org):
    _events(4)
    _chain()
    audit.anchor_head()
    db.session.commit()
    db.session.execute(text("UPDATE audit_events SET actor_name = 'mallory', seq = NULL, prev_hash = NULL, "
                            "hash = NULL WHERE seq >= 2"))
    db.session.commit()
    _chain()  # the forger re-links every event after the edit
    assert audit.verify_chain() == []
    [problem] = audit.check_log().problems
    assert "the time-stamped head differs from event" in problem and "the log was rewritten" in problem


def test_a_forged_token_is_refused(app: Flask, org: Org):
    _events()
    _chain()
    audit.anchor_head()
    db.session.commit()
    anchor = db.session.execute(select(AuditAnchor)).scalar_one()
    token = bytearray(anchor.token)
    token[-10] ^= 0x01  # inside the signature
    db.session.execute(text("UPDATE audit_anchors SET token = :token"), {"token": bytes(token)})
    db.session.commit()
    [problem] = audit.check_log().problems
    assert problem.startswith(f"anchor of #{anchor.seq}") and ("signature" in problem or "cannot be read" in problem)


def test_events_left_unchained_too_long_are_a_problem(app: Flask, org: Org):
    db.session.execute(text("INSERT INTO audit_events (at, actor_name, action, object_type, object_id, details) "
                            "VALUES ('2020-01-01 00:00:00', 'mallory', 'thing.done', 'thing', '1', '{}')"))
    db.session.commit()
    [problem] = audit.check_log().problems
    assert problem.startswith("1 event(s) wait to be chained since 2020-01-01 00:00:00 UTC")


def test_the_exported_bundle_verifies_offline_with_only_cryptography_and_asn1crypto(app: Flask, org: Org,
                                                                                     tmp_path: Path):
    _events()
    _chain()
    audit.anchor_head()
    db.session.commit()
    manifest = audit.export_bundle(tmp_path / "bundle", "tester")
    assert manifest["events"] == len(db.session.execute(select(AuditEvent.id)).all()) and manifest["anchors"] == 1
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == [
        "anchors.jsonl", "ca.pem", "documents.jsonl", "events.jsonl", "manifest.json", "pending.jsonl", "state.json",
        "tsa.pem"]
    # A copy of the tool alone, run by a Python that sees neither SealFlow nor its site-packages' other libraries.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(ROOT / "tools" / "verify_audit.py", alone)
    ran = subprocess.run([sys.executable, "-I", "-c", _ONLY_CRYPTOGRAPHY, str(alone / "verify_audit.py"),
                          str(tmp_path / "bundle"), "--ca", str(tmp_path / "bundle" / "ca.pem")],
                         capture_output=True, text=True, timeout=120, cwd=alone)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "the log is intact" in ran.stdout and "trusted root:" in ran.stdout
    # Tampered after export: detected offline, exit 1.
    lines = (tmp_path / "bundle" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    event["details"]["note"] = "n9"
    lines[1] = json.dumps(event, ensure_ascii=False)
    (tmp_path / "bundle" / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify_audit.main([str(tmp_path / "bundle")]) == 1
    # An unreadable bundle is exit 2, not a traceback.
    (tmp_path / "bundle" / "anchors.jsonl").write_text("{not json", encoding="utf-8")
    assert verify_audit.main([str(tmp_path / "bundle")]) == 2


# Runs the tool with every import but the standard library, cryptography and asn1crypto refused.
_ONLY_CRYPTOGRAPHY = """
import builtins, runpy, sys
real_import = builtins.__import__
allowed = ("cryptography", "asn1crypto", "_cffi_backend", "cffi")
def guarded(name, *args, **kwargs):
    top = name.split(".")[0]
    if top in ("app", "sealflow", "pyhanko", "flask", "sqlalchemy", "pikepdf", "tools"):
        raise ImportError(f"the offline verifier imported {name}")
    return real_import(name, *args, **kwargs)
builtins.__import__ = guarded
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, sys.prefix + "/lib/python%d.%d/site-packages" % sys.version_info[:2])
runpy.run_path(script, run_name="__main__")
"""


def test_the_export_refuses_a_directory_with_files(app: Flask, org: Org, tmp_path: Path):
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(Exception, match="not empty"):
        audit.export_bundle(tmp_path, "tester")
    assert (tmp_path / "x").read_text() == "keep me"


def test_the_cli_verifies_chains_and_exports(app: Flask, org: Org, tmp_path: Path):
    _events()
    runner = app.test_cli_runner()
    chained = runner.invoke(args=["audit", "chain"])
    assert chained.exit_code == 0 and "event(s) chained; head #" in chained.output, chained.output
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "the log is intact" in verified.output, verified.output
    exported = runner.invoke(args=["audit", "export", str(tmp_path / "b")])
    assert exported.exit_code == 0 and verify_audit.main([str(tmp_path / "b")]) == 0
    db.session.execute(text("UPDATE audit_events SET action = 'thing.undone' WHERE seq = 2"))
    db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "event #2" in broken.output and "1 problem(s)" in broken.output


def _anchor_at() -> str:
    anchor = db.session.execute(select(AuditAnchor)).scalar_one()
    return anchor.at.isoformat(timespec="seconds") + "Z"


def test_events_not_chained_yet_still_explain_the_state(app: Flask, org: Org, tmp_path: Path):
    """Between two ticks, a new application's events wait to be chained: neither check reports its status as
    unexplained."""
    from app.services import applications
    from app.services.applications import ApplicationSpec
    from tests.conftest import corpus_pdf

    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="r", title="t")
    applications.submit(spec, org.employee, Actor.of(org.employee))
    db.session.commit()
    check = audit.check_log()
    assert check.problems == [] and check.events == 0 and check.unchained > 0
    manifest = audit.export_bundle(tmp_path / "b", "tester")
    assert manifest["pending_events"] == check.unchained and verify_audit.main([str(tmp_path / "b")]) == 0


def test_one_objects_trail_is_checked_where_it_sits_in_the_chain(app: Flask, org: Org):
    events = _events(4)
    assert audit.check_trail(events).chained == 0 and audit.check_trail(events).intact
    _chain()
    audit.anchor_head()
    db.session.commit()
    mine = [db.session.get(AuditEvent, e.id) for e in events[1:3]]
    trail = audit.check_trail(mine)
    assert trail.intact and trail.chained == 2 and trail.anchor is not None
    # An edit to the event before them breaks their link, though they are intact themselves.
    db.session.execute(text("UPDATE audit_events SET hash = :h WHERE id = :id"), {"h": "ab" * 32, "id": events[0].id})
    db.session.commit()
    db.session.expire_all()
    [problem] = audit.check_trail([db.session.get(AuditEvent, e.id) for e in events[1:3]]).problems
    assert "does not follow the event before it" in problem


@pytest.fixture
def external_tsa(tmp_path: Path):
    """An RFC 3161 TSA of another organisation, over HTTP on localhost; yields its URL and its root's PEM file."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from app.pki import TimeStampAuthority
    from app.pki.ca import create_root_ca, issue_tsa_certificate

    root = create_root_ca("Trusted Time Co.", "ec-p256")
    certified = issue_tsa_certificate(root, "Trusted Time Co.", "ec-p256")
    authority = TimeStampAuthority(certified, chain=(root.certificate,))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            answer = authority.respond(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pem = tmp_path / "tsa-root.pem"
    pem.write_text(root.certificate_pem)
    yield f"http://127.0.0.1:{server.server_address[1]}/", pem
    server.shutdown()


def test_anchors_by_an_external_tsa_verify_once_its_root_is_trusted(app: Flask, org: Org, external_tsa, tmp_path):
    url, root_pem = external_tsa
    app.config["TSA_URL"] = url
    _events()
    _chain()
    anchor = audit.anchor_head()
    db.session.commit()
    assert anchor is not None
    [problem] = audit.check_log().problems  # its root is not the organisation's
    assert "not issued by a trusted CA" in problem
    app.config["TSA_TRUST_FILE"] = str(root_pem)
    assert audit.check_log().problems == []
    audit.export_bundle(tmp_path / "b", "tester")
    assert verify_audit.main([str(tmp_path / "b")]) == 0


def test_a_tsa_that_does_not_answer_leaves_the_chain_growing_and_the_anchor_for_later(app: Flask, org: Org):
    from app.jobs.clock import tick

    app.config["TSA_URL"] = "http://127.0.0.1:9/"  # nothing listens there
    _events()
    first = tick()
    assert first.events_chained > 0 and not first.anchored and audit.verify_chain() == []
    app.config["TSA_URL"] = ""
    assert tick().anchored
    assert audit.check_log().problems == []

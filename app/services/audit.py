"""The audit log as evidence: chaining committed events, anchoring the chain's head with a TSA, checking the log
against its anchors, the sealed documents and the current state, and exporting it for offline checking.
(Events are written with app.models.audit.record.)

Chaining is off the hot path: a step writes its events unchained and commits without waiting for anyone;
`extend_chain` later (the clock's tick, a worker before sealing, an auditor's check) links every committed event in a
short critical section, one writer of the chain at a time. The checks themselves are those of the standalone
verifier, tools/verify_audit.py, run on the live database: the two cannot disagree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, text, update

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import (
    AuditAnchor,
    AuditEvent,
    Document,
    DocumentKind,
    HumanTask,
    ProcessInstance,
    RoleName,
    SealApplication,
    User,
)
from app.models.audit import GENESIS, as_record, events_for
from app.models.timestamps import utcnow
from app.pdf import PdfError
from app.services import documents, keys
from app.services.documents import pdf_errors
from tools.verify_audit import check_anchors, check_chain, check_heads, check_state, event_digest

__all__ = ["AuditCheck", "ChainStatus", "EventSearchSpec", "EventsPage", "anchor_head", "chain_head", "chain_status",
           "check_log", "check_log_reader", "distinct_actions", "events_for", "events_page", "export_bundle",
           "extend_chain", "extend_chain_to_head", "head_known", "instance_applications", "may_read_log",
           "search_events", "verify_chain"]

_PG_LOCK = text("SELECT pg_advisory_xact_lock(7203010)")
_SQLITE_LOCK = text("UPDATE audit_events SET id = id WHERE id = 0")
_EVENTS = AuditEvent.__table__
_LINK = (update(AuditEvent).where(AuditEvent.id == bindparam("event_id"), AuditEvent.seq.is_(None))
         .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash")))


def _lock_chain() -> None:
    """One chain writer at a time, until the caller's transaction ends (SQLite: its one writer; the no-op write
    takes the write lock before the head is read, as pysqlite reads outside transactions until the first write)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_LOCK)
    else:
        connection.execute(_SQLITE_LOCK)


def _head() -> tuple[int, str]:
    row = db.session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None))
                             .order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS)


def extend_chain(batch: int = 5000) -> int:
    """Chain the committed events not chained yet (at most `batch`, oldest first) after the current head; how many.
    The caller commits, which ends the critical section. An event committed meanwhile waits for the next call."""
    return _extend_chain(batch)[0]


def extend_chain_to_head(batch: int = 5000) -> str | None:
    """`extend_chain`, telling the head the chain ends at once the caller commits (None when nothing was pending:
    the head was not read)."""
    return _extend_chain(batch)[1]


def _extend_chain(batch: int) -> tuple[int, str | None]:
    _lock_chain()
    pending = db.session.execute(select(_EVENTS).where(_EVENTS.c.seq.is_(None)).order_by(_EVENTS.c.id)
                                 .limit(batch)).all()
    if not pending:
        return 0, None
    seq, head = _head()
    links = []
    for row in pending:
        seq += 1
        event = {**as_record(row), "seq": seq, "prev": head}
        head = event_digest(event)
        links.append({"event_id": row.id, "new_seq": seq, "new_prev": event["prev"], "new_hash": head})
    db.session.connection().execute(_LINK, links)
    return len(pending), head


# A head the caller chained up to and committed just before (a sealing job's claim), answered by `chain_head`
# inside `head_known` without reading the chain again: the chain only grows, so a committed head stays a true one.
_known_head: ContextVar[str | None] = ContextVar("known_audit_head", default=None)


@contextmanager
def head_known(head: str | None) -> Iterator[None]:
    """Within the block, `chain_head` is `head` (when not None): a head the caller's committed transaction chained."""
    token = _known_head.set(head)
    try:
        yield
    finally:
        _known_head.reset(token)


def chain_head() -> str:
    """The hash of the newest chained event: what a sealed document records as the log's state when sealed (inside
    `head_known`, the head its block was given: the one the job chained, covering its approvals, when it took the
    job)."""
    known = _known_head.get()
    return known if known is not None else _head()[1]


def anchor_head() -> AuditAnchor | None:
    """Time-stamp the chain's head, if it moved since the last anchor (None when it did not). Call after
    `extend_chain` has been committed; the caller commits. Raises SigningFailed when the TSA gives no token."""
    seq, head = _head()
    newest = db.session.execute(select(func.max(AuditAnchor.seq))).scalar()
    if seq == 0 or (newest is not None and newest >= seq):
        return None
    with pdf_errors():
        token = keys.time_stamp(bytes.fromhex(head))
    anchor = AuditAnchor(seq=seq, head_hash=head, token=token, at=utcnow())
    db.session.add(anchor)
    db.session.flush()
    return anchor


def latest_anchor() -> AuditAnchor | None:
    return db.session.execute(select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1)).scalar()


def _chained_records() -> Iterator[dict[str, Any]]:
    query = select(_EVENTS).where(_EVENTS.c.seq.is_not(None)).order_by(_EVENTS.c.seq)
    for row in db.session.execute(query.execution_options(yield_per=2000)):
        yield as_record(row)


def _unchained_records() -> list[dict[str, Any]]:
    """Events committed but not chained yet, oldest first: not evidence yet, but the state may already show them."""
    query = select(_EVENTS).where(_EVENTS.c.seq.is_(None)).order_by(_EVENTS.c.id)
    return [as_record(row) for row in db.session.execute(query)]


def _anchor_records() -> list[dict[str, Any]]:
    return _anchor_records_of(list(db.session.execute(select(AuditAnchor).order_by(AuditAnchor.seq)).scalars()))


def _state() -> dict[str, Any]:
    """The applications' statuses and the tasks' decisions, as the log should explain them."""
    applications = [{"id": row.id, "status": str(row.status)} for row in db.session.execute(
        select(SealApplication.id, SealApplication.status).order_by(SealApplication.id))]
    tasks = [{"id": row.id, "state": str(row.state), "decision": row.decision,
              "completed_by_id": row.completed_by_id, "on_behalf_of_id": row.on_behalf_of_id,
              "document_sha256": row.document_sha256} for row in db.session.execute(
        select(HumanTask.id, HumanTask.state, HumanTask.decision, HumanTask.completed_by_id,
               HumanTask.on_behalf_of_id, HumanTask.document_sha256).order_by(HumanTask.id))]
    return {"applications": applications, "tasks": tasks}


def _sealed_heads() -> list[dict[str, Any]]:
    """The chain head each sealed document carries (read from the signed PDF itself, not from a table)."""
    from app.pdf import read_evidence

    heads = []
    for document in db.session.execute(select(Document).where(Document.kind == DocumentKind.SEALED)
                                       .order_by(Document.id)).scalars():
        try:
            evidence = read_evidence(documents.read_content(document))
        except PdfError:
            evidence = None
        head = evidence.get("audit_chain_head") if evidence else None
        if isinstance(head, str):
            heads.append({"document_id": document.id, "application_id": document.application_id,
                          "sha256": document.sha256, "head": head})
    return heads


@dataclass(frozen=True)
class AuditCheck:
    """What a check of the log found: the problems (none when all holds), how many events were checked, how many
    wait to be chained (and since when), and the newest anchor."""

    problems: list[str]
    events: int
    unchained: int
    unchained_since: datetime | None
    anchor: AuditAnchor | None
    checked_at: datetime

    @property
    def intact(self) -> bool:
        return not self.problems


def _unchained(before: datetime | None = None) -> tuple[int, datetime | None]:
    """How many events wait to be chained (written before `before`, if given), and the oldest one's time."""
    query = select(func.count(), func.min(AuditEvent.at)).where(AuditEvent.seq.is_(None))
    if before is not None:
        query = query.where(AuditEvent.at < before)
    row = db.session.execute(query).one()
    return int(row[0]), row[1]


def check_log(documents_too: bool = True) -> AuditCheck:
    """Check the whole log: its chain, its anchors (tokens valid, chain reaching each), the heads carried by sealed
    documents, and that applications and tasks show only what the log says. Also a problem: events left unchained
    far longer than the clock's interval (the clock is down, or a row was slipped in by hand)."""
    events = list(_chained_records())
    problems = [*check_chain(events),
                *check_anchors(_anchor_records(), events, keys.anchor_trust_roots(), [keys.tsa_certificate()])]
    if documents_too:
        heads = _sealed_heads()
        for item in heads:
            problems += check_heads([item["head"]], events, f"the sealed document {item['document_id']} "
                                                            f"(application {item['application_id']})")
    problems += check_state(events + _unchained_records(), _state())
    unchained, since = _unchained()
    now = utcnow()
    grace = timedelta(seconds=max(600, 3 * current_app.config["CLOCK_INTERVAL"]))
    if since is not None and since < now - grace:
        late, _ = _unchained(before=now - grace)
        problems.append(f"{late} event(s) wait to be chained since {since:%Y-%m-%d %H:%M:%S} UTC: is the clock "
                        "running?")
    return AuditCheck(problems, len(events), unchained, since, latest_anchor(), now)


def verify_chain() -> list[str]:
    """Problems in the chain alone (empty when every chained event is intact and in order)."""
    return check_chain(list(_chained_records()))


def export_bundle(directory: Path, exported_by: str) -> dict[str, Any]:
    """Write the audit bundle tools/verify_audit.py checks offline into an empty or new directory: the chained events
    (JSON lines), the anchors, the sealed documents' heads, the state, and the CA's and TSA's certificates."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise InvalidInput(f"{directory} is not empty")
    count = 0
    with (directory / "events.jsonl").open("w", encoding="utf-8") as out:
        for event in _chained_records():
            out.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    anchors = _anchor_records()
    _write_lines(directory / "anchors.jsonl", anchors)
    _write_lines(directory / "pending.jsonl", _unchained_records())
    _write_lines(directory / "documents.jsonl", _sealed_heads())
    (directory / "state.json").write_text(json.dumps(_state(), ensure_ascii=False, indent=1), encoding="utf-8")
    (directory / "ca.pem").write_text("".join(keys.certificate_pem(c) for c in keys.anchor_trust_roots()),
                                      encoding="ascii")
    (directory / "tsa.pem").write_text(keys.certificate_pem(keys.tsa_certificate()), encoding="ascii")
    unchained, _ = _unchained()
    manifest = {"format": "sealflow-audit-bundle/1", "organisation": current_app.config["ORGANISATION_NAME"],
                "exported_at": utcnow().isoformat(timespec="seconds") + "Z", "exported_by": exported_by,
                "events": count, "anchors": len(anchors), "pending_events": unchained}
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows),
                    encoding="utf-8")


@dataclass(frozen=True)
class EventsPage:
    """One page of an object's events, newest first: the events, the page number (from 1), and how many pages and
    events there are in all."""

    events: list[AuditEvent]
    page: int
    pages: int
    total: int


def events_page(object_type: str, object_id: object, page: int = 1, per_page: int = 20) -> EventsPage:
    """The events about one object, newest first, one page of them (a page past the last is the last)."""
    where = (AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
    total = db.session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = db.session.execute(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)).scalars()
    return EventsPage(list(events), page, pages, total)


# --- the auditor's desk (/audit) ---------------------------------------------------------------------------------

LOG_READER_ROLES = (RoleName.AUDITOR, RoleName.SEAL_ADMIN)
MAX_PER_PAGE = 200


def may_read_log(user: User) -> bool:
    """Whether the user may read the whole audit log and run its check: auditors and seal administrators."""
    return any(user.has_role(role) for role in LOG_READER_ROLES)


def check_log_reader(user: User) -> None:
    """PermissionDenied unless the user may read the audit log."""
    if not may_read_log(user):
        raise PermissionDenied("only auditors and seal administrators read the audit log")


@dataclass(frozen=True)
class EventSearchSpec:
    """What to look for in the log; empty texts and None match everything. `action` is an action (task.completed) or,
    ending with a dot, a family of them (task.); the days are UTC calendar days, both included."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    start: date | None = None
    end: date | None = None
    page: int = 1
    per_page: int = 50


def _check_spec(spec: EventSearchSpec) -> None:
    for name, value in (("actor", spec.actor), ("action", spec.action), ("object type", spec.object_type),
                        ("object id", spec.object_id)):
        if "\x00" in value:  # PostgreSQL compares no text holding a NUL
            raise InvalidInput(f"the {name} holds a NUL character")
        if len(value) > 200:
            raise InvalidInput(f"the {name} is longer than 200 characters")
    if not 1 <= spec.per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"a page holds 1 to {MAX_PER_PAGE} events")
    if spec.page < 1:
        raise InvalidInput("pages are numbered from 1")
    for name, day in (("from", spec.start), ("to", spec.end)):
        if day is not None and not 1900 <= day.year <= 9000:
            raise InvalidInput(f"the {name} date {day.isoformat()} is out of range")
    if spec.start and spec.end and spec.end < spec.start:
        raise InvalidInput("the period ends before it starts")


def _criteria(spec: EventSearchSpec) -> list[Any]:
    where: list[Any] = []
    if spec.actor:
        where.append(AuditEvent.actor_name.icontains(spec.actor, autoescape=True))
    if spec.action.endswith("."):
        where.append(AuditEvent.action.startswith(spec.action, autoescape=True))
    elif spec.action:
        where.append(AuditEvent.action == spec.action)
    if spec.object_type:
        where.append(AuditEvent.object_type == spec.object_type)
    if spec.object_id:
        where.append(AuditEvent.object_id == spec.object_id)
    if spec.start:
        where.append(AuditEvent.at >= datetime.combine(spec.start, time()))
    if spec.end:
        where.append(AuditEvent.at < datetime.combine(spec.end + timedelta(days=1), time()))
    return where


def search_events(spec: EventSearchSpec, reader: User) -> EventsPage:
    """One page of the events matching the spec, newest first (a page past the last is the last); InvalidInput for
    a spec that cannot be searched, PermissionDenied for a reader who may not read the log."""
    check_log_reader(reader)
    _check_spec(spec)
    where = _criteria(spec)
    total = db.session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one()
    pages = max(1, -(-total // spec.per_page))
    page = min(spec.page, pages)
    events = db.session.execute(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
                                .offset((page - 1) * spec.per_page).limit(spec.per_page)).scalars()
    return EventsPage(list(events), page, pages, total)


def distinct_actions() -> list[str]:
    """Every action the log holds, in alphabetical order (the filter's choices)."""
    return list(db.session.execute(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).scalars())


def instance_applications(events: list[AuditEvent]) -> dict[str, int]:
    """The application of each process instance these events are about, by the instance's id as the log writes it."""
    ids = {int(e.object_id) for e in events
           if e.object_type == "process_instance" and e.object_id.isascii() and e.object_id.isdigit()}
    if not ids:
        return {}
    rows = db.session.execute(select(ProcessInstance.id, ProcessInstance.application_id)
                              .where(ProcessInstance.id.in_(ids), ProcessInstance.application_id.is_not(None)))
    return {str(row.id): int(row.application_id) for row in rows}


@dataclass(frozen=True)
class ChainStatus:
    """The chain as it stands, read without checking it: its length, the events waiting to be chained (and since
    when), and the newest anchor."""

    length: int
    unchained: int
    unchained_since: datetime | None
    anchor: AuditAnchor | None


def chain_status() -> ChainStatus:
    """The chain's length, what waits to be chained and the newest anchor: three indexed reads, no check."""
    length, _head_hash = _head()
    unchained, since = _unchained()
    return ChainStatus(length, unchained, since, latest_anchor())


@dataclass(frozen=True)
class TrailCheck:
    """One object's audit trail checked on its own (the application page): its events' hashes and links to the
    events before them, and the first anchor covering them all (None until one does)."""

    total: int
    chained: int
    problems: list[str]
    anchor: AuditAnchor | None

    @property
    def intact(self) -> bool:
        return not self.problems


def check_trail(events: list[AuditEvent]) -> TrailCheck:
    """Check the given events where they sit in the chain: each chained one's hash is its content's and its `prev`
    is the hash of the event before it; and the first anchor at or after the newest of them has a valid token over
    the hash the chain holds there. Two queries however many events; the whole log's check is `check_log`."""
    chained = [e for e in events if e.seq is not None]
    before = {row.seq: row.hash for row in db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_([e.seq - 1 for e in chained if e.seq])))}
    problems = []
    for event in chained:
        record_ = as_record(event)
        expected_prev = GENESIS if event.seq == 1 else before.get((event.seq or 0) - 1)
        if event_digest(record_) != event.hash:
            problems.append(f"event #{event.seq} (id {event.id}): its content does not match its hash")
        if event.prev_hash != expected_prev:
            problems.append(f"event #{event.seq} (id {event.id}): does not follow the event before it")
    anchor = None
    if chained:
        newest = max(e.seq or 0 for e in chained)
        anchor = db.session.execute(select(AuditAnchor).where(AuditAnchor.seq >= newest)
                                    .order_by(AuditAnchor.seq).limit(1)).scalar()
        if anchor is not None:
            problems += check_anchors(_anchor_records_of([anchor]), list(_records_at(anchor.seq)),
                                      keys.anchor_trust_roots(), [keys.tsa_certificate()])
    return TrailCheck(len(events), len(chained), problems, anchor)


def _anchor_records_of(anchors: list[AuditAnchor]) -> list[dict[str, Any]]:
    return [{"seq": a.seq, "head": a.head_hash, "at": a.at.isoformat(timespec="seconds") + "Z",
             "token": base64.b64encode(a.token).decode()} for a in anchors]


def _records_at(seq: int) -> Iterator[dict[str, Any]]:
    for row in db.session.execute(select(_EVENTS).where(_EVENTS.c.seq == seq)):
        yield as_record(row)

"""The seal-compromise report: every document version a revoked seal sealed or signed from a given time on (what a
stolen key may have put the organisation's name to), as a list, a CSV and a draft invalidation notice (作废声明) for
the legal team (app/pdf/notice.py draws it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import InvalidInput, InvalidTransition, PermissionDenied
from app.extensions import db
from app.models import Document, DocumentKind, RevocationReason, Seal, SealApplication, SealImage, SealStatus, User
from app.models.timestamps import utcnow
from app.services import keys, statistics
from app.services.archive import guarded
from app.services.documents import pdf_errors
from app.services.seals import get_seal

__all__ = ["DEFAULT_LOOKBACK", "EXPORT_COLUMNS", "ExposedDocument", "Exposure", "check_reader", "default_since",
           "draft_notice", "exposure", "exposure_csv", "may_read", "since_of"]

# SealFlow records when a compromise was declared, not when it began: by default the report looks this far back.
DEFAULT_LOOKBACK = timedelta(days=90)
# The CSV's columns, in order (the pages name them in their language).
EXPORT_COLUMNS = ("sealed_at", "application_id", "title", "counterparty", "document_type", "requester", "filename",
                  "version", "sha256")
# The notice's fixed bilingual wording of each reason (legal text: the same whatever the reader's language).
REASON_WORDS = {
    RevocationReason.KEY_COMPROMISE: ("密钥泄露", "key compromise"),
    RevocationReason.SUPERSEDED: ("已被替换", "supersession"),
    RevocationReason.CESSATION_OF_OPERATION: ("停止使用", "cessation of operation"),
}


@dataclass(frozen=True)
class ExposedDocument:
    """One document version the seal went onto: on which application, for whom, and the version's hash."""

    sealed_at: datetime
    application_id: int
    title: str
    counterparty: str
    document_type: str
    requester: str
    filename: str
    version: int
    sha256: str


@dataclass(frozen=True)
class Exposure:
    """A revoked seal's uses from `since` on, oldest first; `default_since` says the reader did not choose the time."""

    seal: Seal
    since: datetime
    default_since: bool
    documents: tuple[ExposedDocument, ...]

    @property
    def application_count(self) -> int:
        return len({d.application_id for d in self.documents})

    @property
    def counterparties(self) -> tuple[str, ...]:
        """The counterparties the documents name, each once, by name."""
        return tuple(sorted({d.counterparty for d in self.documents if d.counterparty}))


def may_read(user: User) -> bool:
    """Whether the user may read compromise reports: the seal-usage records' readers (auditors, seal admins)."""
    return statistics.may_view(user)


def check_reader(user: User) -> None:
    """PermissionDenied unless the user may read compromise reports."""
    if not may_read(user):
        raise PermissionDenied("only auditors and seal administrators read a seal's compromise report")


def since_of(text: str | None) -> datetime | None:
    """The start a query string gives (YYYY-MM-DD, or with a time, UTC unless it says otherwise); None when empty;
    InvalidInput naming the problem."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"the start {text[:20]!r} is not a date (YYYY-MM-DD)") from None
    if not 1900 <= since.year <= 9000:
        raise InvalidInput(f"the start {text[:20]} is out of range")
    return since.astimezone(timezone.utc).replace(tzinfo=None) if since.tzinfo else since


def _revoked_seal(seal_id: int) -> Seal:
    seal = get_seal(seal_id)
    if seal.status != SealStatus.REVOKED or seal.revoked_at is None:
        raise InvalidTransition(f"the seal “{seal.name}” is not revoked: it has no compromise report")
    return seal


def default_since(seal: Seal) -> datetime:
    """The start of the day DEFAULT_LOOKBACK before the revocation."""
    assert seal.revoked_at is not None  # only a revoked seal has a report
    return datetime.combine((seal.revoked_at - DEFAULT_LOOKBACK).date(), datetime.min.time())


def exposure(seal_id: int, since: datetime | None, reader: User) -> Exposure:
    """Every document version the revoked seal sealed or signed from `since` (default: DEFAULT_LOOKBACK before its
    revocation), with any of its image versions, as the application's seal or as a party's signature."""
    check_reader(reader)
    seal = _revoked_seal(seal_id)
    start = default_since(seal) if since is None else since
    assert seal.revoked_at is not None
    if start > seal.revoked_at:
        raise InvalidInput("the start is after the seal's revocation")
    # No upper bound: a revoked seal seals nothing, and a sealing that ended within the revocation's second (the
    # recorded time keeps whole seconds) is listed rather than lost.
    rows = db.session.execute(
        select(Document.created_at, SealApplication.id, SealApplication.title, SealApplication.counterparty,
               SealApplication.document_type, User.display_name, Document.filename, Document.version, Document.sha256)
        .join(SealImage, Document.seal_image_id == SealImage.id)
        .join(SealApplication, Document.application_id == SealApplication.id)
        .join(User, SealApplication.requester_id == User.id)
        .where(Document.kind == DocumentKind.SEALED, SealImage.seal_id == seal.id, Document.created_at >= start)
        .order_by(Document.created_at, Document.id)).all()
    return Exposure(seal, start, since is None, tuple(ExposedDocument(*row) for row in rows))


def _cell(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else str(value)


def exposure_csv(found: Exposure, headers: Mapping[str, str],
                 document_type_label: Callable[[str], str] = str) -> bytes:
    """The exposure list as CSV: UTF-8 with the byte-order mark (Excel reads Chinese right), times in UTC, texts a
    spreadsheet would run as formulas defused."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([guarded(headers.get(c, c)) for c in EXPORT_COLUMNS])
    for d in found.documents:
        values = {"sealed_at": d.sealed_at, "application_id": d.application_id, "title": d.title,
                  "counterparty": d.counterparty, "document_type": document_type_label(d.document_type),
                  "requester": d.requester, "filename": d.filename, "version": d.version, "sha256": d.sha256}
        writer.writerow([guarded(_cell(values[c])) for c in EXPORT_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _statement(found: Exposure, organisation: str) -> tuple[str, ...]:
    """The notice's legal wording: fixed bilingual text, like the signature authorization letter's."""
    seal = found.seal
    assert seal.revoked_at is not None
    zh, en = REASON_WORDS.get(seal.revocation_reason or RevocationReason.KEY_COMPROMISE, ("", ""))
    since, revoked = f"{found.since:%Y-%m-%d %H:%M} UTC", _when(seal.revoked_at)
    return (
        f"{organisation}特此声明：本单位“{seal.name}”（数字证书见上）因{zh}，已于{revoked}撤销。自{since}起至撤销时止，"
        "以该印章盖章或签署的文件列于下表。除经本单位另行书面确认外，下表所列文件上的该印章及其电子签名不代表本单位的意思"
        "表示，现声明作废；撤销后出现的带有该印章的任何文件均属无效。",
        f"{organisation} hereby gives notice that its seal “{seal.name}” (certificates above) was revoked on {revoked} "
        f"for {en}. The documents sealed or signed with it from {since} until its revocation are listed below. Unless "
        f"{organisation} confirms a document in writing, the seal and electronic signature on the documents listed "
        "do not express the will of the organisation and are hereby declared invalid; any document bearing the seal "
        "after its revocation is void.",
    )


def _facts(found: Exposure) -> tuple[tuple[str, str], ...]:
    seal = found.seal
    assert seal.revoked_at is not None
    certificates = keys.certificate_history(seal)
    zh, en = REASON_WORDS.get(seal.revocation_reason or RevocationReason.KEY_COMPROMISE, ("", ""))
    return (
        ("印章 Seal", seal.name),
        ("证书序列号 Certificate serial", "\n".join(c.serial_number for c in certificates)),
        ("证书指纹 Fingerprint (SHA-256)", "\n".join(c.fingerprint for c in certificates)),
        ("撤销时间 Revoked", _when(seal.revoked_at)),
        ("撤销原因 Reason", f"{zh} {en}".strip() if seal.revocation_reason else "—"),
        ("期间 Period", f"{found.since:%Y-%m-%d %H:%M} UTC — {_when(seal.revoked_at)}"),
        ("文件 Documents", f"{len(found.documents)}（{found.application_count} 项申请 applications）"),
    )


def draft_notice(found: Exposure, reader: User, document_type_label: Callable[[str], str] = str) -> bytes:
    """The draft invalidation notice (作废声明) as a PDF: the seal, its certificates, the revocation, the statement
    and the exposure list; marked as a draft on every page, for the legal team to finish."""
    from app.pdf import NoticeSpec, render_notice
    from app.pdf.certificate import TableSpec

    check_reader(reader)
    organisation = current_app.config["ORGANISATION_NAME"]
    rows = tuple((f"{d.sealed_at:%Y-%m-%d}", f"#{d.application_id}",
                  f"{d.title or d.filename} · {document_type_label(d.document_type)} · v{d.version}",
                  d.counterparty or "—", d.sha256[:16]) for d in found.documents)
    spec = NoticeSpec(
        title="作废声明 / Notice of invalidation", organisation=organisation, facts=_facts(found),
        statement=_statement(found, organisation),
        table=TableSpec("文件清单 Documents", ("日期 Date", "申请号 No.", "文件 Document", "相对方 Counterparty",
                                            "SHA-256"), (0.13, 0.11, 0.38, 0.2, 0.18), rows),
        empty="无 None", signature=("声明单位（盖章） Organisation (seal):", "日期 Date:"),
        draft_mark=_("DRAFT for the legal team: not for publication"),
        footer=_("Drafted %(when)s by %(who)s · SealFlow", when=_when(utcnow()), who=reader.display_name),
        page_label=_("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"))
    with pdf_errors():
        return render_notice(spec)

"""The approval evidence a sealed PDF carries: a JSON file embedded in the document (an EmbeddedFiles entry,
readable by any PDF tool: `qpdf --show-attachment=sealflow-evidence.json`, `pdfdetach`, pikepdf) before it is
signed, so that the signature covers it: which application, which approvals by whom and when, and the audit
chain's head at sealing time. A verifier takes it as evidence only if the first signature covers it unchanged."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import pikepdf

from app.pdf.document import open_pdf
from app.pdf.errors import InvalidPdfError, PdfError

__all__ = [
    "EVIDENCE_FILE",
    "EVIDENCE_FORMAT",
    "Evidence",
    "EvidenceApproval",
    "EvidenceReport",
    "attach_evidence",
    "check_evidence",
    "parse_evidence",
    "read_evidence",
]

EVIDENCE_FILE = "sealflow-evidence.json"
EVIDENCE_FORMAT = "sealflow-evidence/1"
MAX_EVIDENCE = 256 * 1024  # bytes: a few dozen approvals fit many times over; a larger file is not ours


def attach_evidence(pdf: pikepdf.Pdf, evidence: dict[str, Any]) -> None:
    """Embed the evidence in an open PDF (replacing an earlier copy); it is written with the next save."""
    data = json.dumps(evidence, ensure_ascii=False, sort_keys=True, indent=1).encode()
    stamp = f"D:{datetime.now(UTC):%Y%m%d%H%M%S}Z"
    spec = pikepdf.AttachedFileSpec(pdf, data, description="SealFlow approval evidence", filename=EVIDENCE_FILE,
                                    mime_type="application/json", creation_date=stamp, mod_date=stamp)
    pdf.attachments[EVIDENCE_FILE] = spec


def _bounded(stream: pikepdf.Object) -> bytes:
    """The stream's content, decoded no further than MAX_EVIDENCE: a file that inflates to gigabytes is refused
    after reading a little more than the limit, never decoded whole."""
    filters = stream.get("/Filter")
    raw = stream.read_raw_bytes()
    if filters is None:
        content = raw
    elif filters == pikepdf.Name.FlateDecode and stream.get("/DecodeParms") is None:
        content = zlib.decompressobj().decompress(raw, MAX_EVIDENCE + 1)
    else:
        raise InvalidPdfError("the embedded approval evidence is encoded in a way SealFlow never writes")
    if len(content) > MAX_EVIDENCE:
        raise InvalidPdfError("the embedded approval evidence is too large to be SealFlow's")
    return content


def _content(filespec: pikepdf.Dictionary) -> bytes:
    """The embedded file's content. A file spec holds it under /F and /UF (usually one stream); different streams
    would let one tool show other evidence than another, so they must agree."""
    streams = list(filespec.EF.values())
    content = _bounded(streams[0])
    for other in streams[1:]:
        if _bounded(other) != content:
            raise InvalidPdfError("the embedded approval evidence holds two different contents")
    return content


def read_evidence(data: bytes, max_pages: int = 2000) -> dict[str, Any] | None:
    """The evidence a PDF carries, or None when it has none. A damaged evidence file is an InvalidPdfError."""
    with open_pdf(data, max_pages) as pdf:
        try:
            attached = pdf.attachments.get(EVIDENCE_FILE)
            if attached is None:
                return None
            content = _content(attached.obj)
        except (pikepdf.PdfError, KeyError, IndexError, AttributeError, TypeError, zlib.error) as exc:
            raise InvalidPdfError("the embedded approval evidence cannot be read") from exc
    try:
        evidence = json.load(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[… nested past the stack
        raise InvalidPdfError("the embedded approval evidence is not JSON") from exc
    if not isinstance(evidence, dict):
        raise InvalidPdfError("the embedded approval evidence is not in SealFlow's format")
    return evidence


@dataclass(frozen=True)
class EvidenceApproval:
    """One approval the evidence records: the policy level, the approver rule (role) and its label, who decided
    (and for whom, when a substitute did) and when."""

    level: int
    role: str
    label: str
    name: str
    on_behalf_of: str | None
    at: datetime


@dataclass(frozen=True)
class EvidenceAuthorization:
    """The leader's signature authorization a signature was applied under, instead of a step of theirs."""

    id: int
    leader: str
    granted_at: datetime
    letter_sha256: str


@dataclass(frozen=True)
class Evidence:
    """The evidence as typed facts (the JSON written by app.services.sealing)."""

    organisation: str
    application_id: int
    seal: str
    document_type: str
    document_sha256: str | None
    approvals: tuple[EvidenceApproval, ...]
    audit_chain_head: str
    sealed_at: datetime
    authorization: EvidenceAuthorization | None = None


T = TypeVar("T")


def _typed(value: Any, kind: type[T]) -> T:
    # bool is an int to isinstance; no field of ours is a bool.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _typed(value, str)


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(_typed(value, str))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _approval(item: Any) -> EvidenceApproval:
    entry = _typed(item, dict)
    return EvidenceApproval(_typed(entry["level"], int), _typed(entry["role"], str),
                            _typed(entry.get("label") or "", str), _typed(entry["name"], str),
                            _optional_text(entry.get("on_behalf_of")), _moment(entry["at"]))


def _authorization(item: Any) -> EvidenceAuthorization | None:
    if item is None:
        return None
    entry = _typed(item, dict)
    return EvidenceAuthorization(_typed(entry["id"], int), _typed(entry["leader"], str),
                                 _moment(entry["granted_at"]), _typed(entry["letter_sha256"], str))


def parse_evidence(content: dict[str, Any]) -> Evidence:
    """The evidence's facts; anything else than SealFlow's format is an InvalidPdfError."""
    if content.get("format") != EVIDENCE_FORMAT:
        raise InvalidPdfError("the embedded approval evidence is not in a format SealFlow knows")
    try:
        return Evidence(
            organisation=_typed(content["organisation"], str),
            application_id=_typed(content["application_id"], int),
            seal=_typed(content["seal"], str),
            document_type=_typed(content["document_type"], str),
            document_sha256=_optional_text(content.get("document_sha256")),
            approvals=tuple(_approval(item) for item in _typed(content["approvals"], list)),
            audit_chain_head=_typed(content["audit_chain_head"], str),
            sealed_at=_moment(content["sealed_at"]),
            authorization=_authorization(content.get("signature_authorization")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidPdfError(f"the embedded approval evidence is incomplete or malformed ({exc})") from exc


EvidenceState = Literal["covered", "not-covered", "changed", "unreadable"]


@dataclass(frozen=True)
class EvidenceReport:
    """The approval evidence a PDF carries and whether a signature vouches for it.

    `content` is set only when `state` is "covered": the first signature's revision holds the very evidence the
    file holds now. Evidence that no intact signature covers, or that changed after signing, is not evidence.
    """

    state: EvidenceState
    reason: str
    content: Evidence | None = None
    field_name: str | None = None

    @property
    def covered(self) -> bool:
        """Signed, unchanged since: the facts can be shown as evidence."""
        return self.state == "covered"


def check_evidence(data: bytes, first_signature: str | None, signed_length: int | None,
                   max_pages: int = 2000) -> EvidenceReport | None:
    """Whether the evidence in a PDF is covered by its first signature; None when the PDF carries none.

    :param data: the PDF.
    :param first_signature: the field name of the earliest signature, or None when the PDF has none.
    :param signed_length: how many bytes from the start of the file that signature signed (its whole revision),
        or None when it does not verify or does not cover a whole revision.
    :param max_pages: the page limit of app.pdf.document.open_pdf.
    """
    try:
        final = read_evidence(data, max_pages)
        # A signature over the whole file signed these very bytes: its revision holds the same evidence.
        whole = signed_length == len(data)
        signed = final if whole else read_evidence(data[:signed_length], max_pages) if signed_length else None
        if final is None and signed is None:
            return None
        if first_signature is None:
            return EvidenceReport("not-covered", "the PDF carries no signature that could cover the approval evidence")
        if signed_length is None:
            return EvidenceReport("not-covered", f"the signature {first_signature!r} that would cover the approval "
                                                 "evidence does not verify over a whole revision of the file")
        return _compared(final, signed, first_signature)
    except PdfError as exc:
        return EvidenceReport("unreadable", str(exc))


def _compared(final: dict[str, Any] | None, signed: dict[str, Any] | None, field_name: str) -> EvidenceReport:
    if signed is None:
        return EvidenceReport("not-covered", f"the approval evidence was added after the first signature "
                                             f"({field_name!r}), in a later update of the file")
    if final is None:
        return EvidenceReport("changed", f"the approval evidence signed by {field_name!r} was removed afterwards")
    if final != signed:
        return EvidenceReport("changed", f"the approval evidence was replaced after the first signature "
                                         f"({field_name!r}); the signed one differs")
    return EvidenceReport("covered", f"covered by the signature {field_name!r}", parse_evidence(final), field_name)

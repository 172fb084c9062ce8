"""Verification of a PDF's signatures and document time-stamps with pyHanko's validator: one report per
signature, a verdict with a human reason, and whether the file changed after the last signature. A signature whose
certificate was revoked stays valid when a trusted time-stamp proves it was made before the revocation. The approval
evidence the file carries counts only as the first signature signed it (app.pdf.evidence)."""

from __future__ import annotations

import datetime as dt
import enum
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext

from app.pdf.errors import EncryptedPdfError, InvalidPdfError, library_message
from app.pdf.evidence import EvidenceReport, check_evidence
from app.pdf.revisions import permitted_level, quiet_diff_analysis
from app.pdf.revocation import Revocation, find_revocation, made_before
from app.pki.trust import validation_context

__all__ = [
    "ModificationLevel",
    "Revocation",
    "SignatureCoverageLevel",
    "SignatureReport",
    "VerificationReport",
    "Verdict",
    "verify_pdf",
]

Verdict = Literal["valid", "untrusted", "modified", "revoked", "invalid", "unsigned"]
SignatureKind = Literal["signature", "document-timestamp"]

# The worst verdict of the signatures is the document's.
_SEVERITY: dict[Verdict, int] = {"unsigned": 0, "valid": 1, "untrusted": 2, "modified": 3, "revoked": 4, "invalid": 5}


@dataclass(frozen=True)
class SignatureReport:
    """What a verifier can say about one signature (or document time-stamp) of the PDF.

    `trusted_time` is the earliest trusted time-stamp proving the signature existed (its own token, or a later
    document time-stamp over it); `revocation` is its certificate's revocation, if any; `revoked` says that the
    revocation makes the signature invalid: no trusted time proves the signature was made before it.
    """

    field_name: str
    kind: SignatureKind
    signer: str
    certificate_serial: int | None
    seal_name: str | None
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    timestamp_valid: bool
    timestamp_trusted: bool
    intact: bool
    valid: bool
    trusted: bool
    revoked: bool
    revocation: Revocation | None
    trusted_time: dt.datetime | None
    coverage: SignatureCoverageLevel | None
    modification_level: ModificationLevel | None
    docmdp_ok: bool | None
    verdict: Verdict
    reason: str

    @property
    def revoked_later(self) -> bool:
        """Valid, made before its certificate was revoked: the seal was revoked later."""
        return self.verdict == "valid" and self.revocation is not None


@dataclass(frozen=True)
class VerificationReport:
    """Every signature in revision order, the verdict on the document as a whole, and the approval evidence the
    file carries (None when it carries none; its facts only when the first signature covers it)."""

    signatures: tuple[SignatureReport, ...]
    changed_after_last_signature: bool
    verdict: Verdict
    reason: str
    evidence: EvidenceReport | None = None


@dataclass(frozen=True)
class _Trust:
    context: ValidationContext
    roots: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    seal_names: Mapping[int, str]


def verify_pdf(
    data: bytes,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList] = (),
    seal_names: Mapping[int, str] | None = None,
) -> VerificationReport:
    """Check every signature of a PDF against the given roots and CRLs.

    :param data: the PDF.
    :param trust_roots: root certificates whose signers (and time-stamp authorities) are trusted.
    :param crls: revocation lists to consult; with any given, a certificate that names a CRL must be
        checked against one (pyHanko's hard-fail), otherwise revocation problems are ignored (soft-fail).
    :param seal_names: seal names by certificate serial number, to name the seal behind a signature.
    :raises InvalidPdfError: the bytes are not a readable PDF.
    :raises EncryptedPdfError: the PDF needs a password to be read.
    """
    quiet_diff_analysis()
    reader = _open(data)
    trust = _Trust(_context(trust_roots, crls), tuple(trust_roots), tuple(crls), seal_names or {})
    try:
        readable, broken = _embedded(reader)
        made = _examine(readable, trust)
    except PyHankoPdfError as exc:
        raise InvalidPdfError(f"the PDF's form fields cannot be read: {library_message(exc)}") from exc
    reports = tuple(made + broken)
    first = made[0].field_name if made else broken[0].field_name if broken else None
    evidence = check_evidence(data, first, _signed_length(readable[0], made[0]) if made else None)
    if not reports:
        return VerificationReport((), False, "unsigned", "the PDF carries no signature", evidence)
    coverages = [report.coverage for report in reports if report.coverage is not None]
    changed = bool(coverages) and coverages[-1] != SignatureCoverageLevel.ENTIRE_FILE
    verdict, reason = _overall(reports, changed)
    return VerificationReport(reports, changed, verdict, reason, evidence)


def _open(data: bytes) -> PdfFileReader:
    if b"%PDF-" not in data[:1024]:  # readers accept up to 1 KiB of junk before the header
        raise InvalidPdfError("the file is not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted and reader.decrypt(b"").status == AuthStatus.FAILED:
            raise EncryptedPdfError("the PDF is encrypted with a password; verification needs it")
        reader.root  # noqa: B018 - reading the catalog surfaces a broken cross-reference table now
    except (PyHankoPdfError, ValueError, KeyError) as exc:
        raise InvalidPdfError(f"the PDF cannot be read: {library_message(exc)}") from exc
    return reader


def _context(
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    moment: dt.datetime | None = None,
) -> ValidationContext:
    return validation_context(trust_roots, crls, "hard-fail" if crls else "soft-fail", moment)


def _embedded(reader: PdfFileReader) -> tuple[list[EmbeddedPdfSignature], list[SignatureReport]]:
    """The readable signatures in the order they were made, and a report for each unreadable one."""
    readable: list[EmbeddedPdfSignature] = []
    broken: list[SignatureReport] = []
    for field_name, _value, field in enumerate_sig_fields(reader, filled_status=True):
        try:
            readable.append(EmbeddedPdfSignature(reader, field, field_name))
        except (PyHankoPdfError, ValueError, KeyError, TypeError) as exc:
            broken.append(_broken(field_name, f"the signature data is not a readable CMS object ({_short(exc)})"))
    readable.sort(key=lambda embedded: embedded.signed_revision)
    return readable, broken


def _signed_length(embedded: EmbeddedPdfSignature, report: SignatureReport) -> int | None:
    """How many bytes from the start the signature signed, when they are exactly its revision and it verifies:
    pyHanko's coverage check proved the byte range contiguous and ending at that revision's end of file."""
    whole = report.coverage is not None and report.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
    if not (whole and report.intact and report.valid):
        return None
    _start, _before, after, length = (int(n) for n in embedded.byte_range)
    return after + length


def _examine(readable: list[EmbeddedPdfSignature], trust: _Trust) -> list[SignatureReport]:
    """One report per readable signature, in the same order."""
    # Newest first, so that each signature knows the earliest valid document time-stamp made after it: that
    # time-stamp covers the signature's bytes, so it proves the signature existed by then.
    reports: list[SignatureReport] = []
    stamped_by: dt.datetime | None = None
    for embedded in reversed(readable):
        report = _report(embedded, trust, stamped_by)
        if report.kind == "document-timestamp" and report.verdict == "valid" and report.timestamp_time is not None:
            stamped_by = min(report.timestamp_time, stamped_by or report.timestamp_time)
        reports.append(report)
    return reports[::-1]


def _short(exc: Exception) -> str:
    text = library_message(exc)
    return text if len(text) <= 120 else text[:117] + "..."


def _broken(field_name: str, reason: str) -> SignatureReport:
    return SignatureReport(
        field_name=field_name, kind="signature", signer="", certificate_serial=None, seal_name=None,
        signing_time=None, timestamp_time=None, timestamp_valid=False, timestamp_trusted=False,
        intact=False, valid=False, trusted=False, revoked=False, revocation=None, trusted_time=None,
        coverage=None, modification_level=None, docmdp_ok=None, verdict="invalid", reason=reason,
    )


def _report(embedded: EmbeddedPdfSignature, trust: _Trust, stamped_by: dt.datetime | None) -> SignatureReport:
    try:
        if embedded.sig_object_type == "/DocTimeStamp":
            return _timestamp_report(embedded, validate_pdf_timestamp(embedded, trust.context), trust)
        return _signature_report(embedded, validate_pdf_signature(embedded, trust.context), trust, stamped_by)
    except (PyHankoPdfError, ValueError, KeyError) as exc:  # pyHanko's SignatureValidationError is a ValueError
        return _broken(str(embedded.field_name), f"the signature cannot be validated: {_short(exc)}")


def _common_name(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.native.get("common_name", cert.subject.human_friendly))


def _signature_report(
    embedded: EmbeddedPdfSignature, status: PdfSignatureStatus, trust: _Trust, stamped_by: dt.datetime | None
) -> SignatureReport:
    cert = status.signing_cert
    serial = int(cert.serial_number)
    ts = status.timestamp_validity
    proof = min((t for t in (_trusted_token_time(ts), stamped_by) if t is not None), default=None)
    revocation = find_revocation(status, cert, trust.roots, trust.crls)
    if revocation is not None and made_before(proof, revocation):
        # Made before the revocation: what counts is whether the signature was good then. pyHanko validates the
        # chain as of the proven time, with the same CRLs; a revocation it finds by then still stands.
        status = validate_pdf_signature(embedded, _context(trust.roots, trust.crls, proof))
        ts = status.timestamp_validity
        revocation = find_revocation(status, cert, trust.roots, trust.crls)
    revoked = revocation is not None and not made_before(proof, revocation)
    facts = SignatureReport(
        field_name=str(embedded.field_name),
        kind="signature",
        signer=_common_name(cert),
        certificate_serial=serial,
        seal_name=trust.seal_names.get(serial),
        signing_time=status.signer_reported_dt,
        timestamp_time=ts.timestamp if ts is not None else None,
        timestamp_valid=ts is not None and ts.intact and ts.valid,
        timestamp_trusted=ts is not None and ts.trusted,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted and not revoked,
        revoked=revoked,
        revocation=revocation,
        trusted_time=proof,
        coverage=status.coverage,
        modification_level=status.modification_level,
        docmdp_ok=status.docmdp_ok,
        verdict="valid",
        reason="",
    )
    problems = _signature_problems(facts, status) + _modification_problems(facts, embedded)
    return _judged(facts, problems, has_timestamp=ts is not None)


def _trusted_token_time(ts: TimestampSignatureStatus | None) -> dt.datetime | None:
    return ts.timestamp if ts is not None and ts.intact and ts.valid and ts.trusted else None


def _timestamp_report(
    embedded: EmbeddedPdfSignature, status: DocumentTimestampStatus, trust: _Trust
) -> SignatureReport:
    # A document time-stamp is its own proof of time: a revoked authority's one is never "made before".
    revocation = find_revocation(status, status.signing_cert, trust.roots, trust.crls)
    facts = SignatureReport(
        field_name=str(embedded.field_name),
        kind="document-timestamp",
        signer=_common_name(status.signing_cert),
        certificate_serial=int(status.signing_cert.serial_number),
        seal_name=None,
        signing_time=None,
        timestamp_time=status.timestamp,
        timestamp_valid=status.intact and status.valid,
        timestamp_trusted=status.trusted,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted and revocation is None,
        revoked=revocation is not None,
        revocation=revocation,
        trusted_time=None,
        coverage=status.coverage,
        modification_level=status.modification_level,
        docmdp_ok=status.docmdp_ok,
        verdict="valid",
        reason="",
    )
    problems = _signature_problems(facts, status) + _modification_problems(facts, embedded)
    return _judged(facts, problems, has_timestamp=True)


def _signature_problems(
    facts: SignatureReport, status: PdfSignatureStatus | DocumentTimestampStatus
) -> list[tuple[Verdict, str]]:
    problems: list[tuple[Verdict, str]] = []
    if not facts.intact:
        problems.append(("invalid", "the signed bytes were changed after signing (their digest does not match)"))
    elif not facts.valid:
        problems.append(("invalid", "the cryptographic signature does not verify against the signer's certificate"))
    if facts.revoked and facts.revocation is not None:
        problems.append(("revoked", _revoked_reason(facts, facts.revocation)))
    elif facts.intact and facts.valid and not status.trusted:
        problems.append(("untrusted", _untrusted_reason(facts, status)))
    if isinstance(status, PdfSignatureStatus):
        problems += _timestamp_problems(status.timestamp_validity)
    return problems


def _revoked_reason(facts: SignatureReport, revocation: Revocation) -> str:
    if revocation.of_ca:
        revoked = f"a CA certificate above {facts.signer!r} was revoked on {revocation.describe()}"
    elif facts.kind == "signature":  # SealFlow's signers are seals, named in their certificates
        revoked = f"the seal {facts.seal_name or facts.signer!r} was revoked on {revocation.describe()}"
    else:
        revoked = f"the certificate of {facts.signer!r} was revoked on {revocation.describe()}"
    if facts.kind == "document-timestamp":
        return revoked
    if facts.trusted_time is None:
        return f"{revoked}, and no trusted time-stamp proves the signature was made before that"
    return f"{revoked}, before the signature's trusted time-stamp of {facts.trusted_time:%Y-%m-%d %H:%M:%S} UTC"


def _untrusted_reason(facts: SignatureReport, status: PdfSignatureStatus | DocumentTimestampStatus) -> str:
    indication = status.trust_problem_indic
    if status.validation_path is None:
        return f"the certificate of {facts.signer!r} does not lead to a trusted root"
    name = indication.name if isinstance(indication, enum.Enum) else "unknown"
    return f"the certificate of {facts.signer!r} is not trusted for signing ({name})"


def _timestamp_problems(ts: TimestampSignatureStatus | None) -> list[tuple[Verdict, str]]:
    if ts is None:
        return []
    if not (ts.intact and ts.valid):
        return [("invalid", "the signature's time-stamp token is broken")]
    if not ts.trusted:
        return [("untrusted", f"the time-stamp authority {_common_name(ts.signing_cert)!r} is not trusted")]
    return []


def _modification_problems(facts: SignatureReport, embedded: EmbeddedPdfSignature) -> list[tuple[Verdict, str]]:
    coverage = facts.coverage
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return [("modified", "the signature does not cover a whole revision of the file (the file was rewritten)")]
    level = facts.modification_level
    if coverage == SignatureCoverageLevel.ENTIRE_FILE or level is None:
        return []
    if facts.docmdp_ok is False or level > permitted_level(embedded):
        return [("modified", f"the document was changed after this signature ({_describe(level)})")]
    return []


def _describe(level: ModificationLevel) -> str:
    return {
        ModificationLevel.ANNOTATIONS: "annotations were added or changed",
        ModificationLevel.OTHER: "page content or other objects were changed",
    }.get(level, f"modification level {level.name}")


def _judged(facts: SignatureReport, problems: list[tuple[Verdict, str]], *, has_timestamp: bool) -> SignatureReport:
    if not problems:
        when = " with a trusted time-stamp" if has_timestamp else ""
        if facts.revocation is not None and facts.trusted_time is not None:
            when = f", time-stamped {facts.trusted_time:%Y-%m-%d %H:%M:%S} UTC before the revocation"
        later = "" if facts.coverage == SignatureCoverageLevel.ENTIRE_FILE else "; later updates are allowed ones"
        reason = f"signed by {facts.signer!r}{when}, unchanged since signing{later}"
        if facts.revocation is not None:
            reason = f"seal revoked later, on {facts.revocation.describe()}; {reason}"
        return replace(facts, verdict="valid", reason=reason)
    worst = max(problems, key=lambda problem: _SEVERITY[problem[0]])
    others = [text for _verdict, text in problems if text != worst[1]]
    return replace(facts, verdict=worst[0], reason="; ".join([worst[1], *others]))


def _overall(reports: Sequence[SignatureReport], changed: bool) -> tuple[Verdict, str]:
    worst = max(reports, key=lambda report: _SEVERITY[report.verdict])
    if worst.verdict != "valid":
        return worst.verdict, f"{worst.field_name}: {worst.reason}"
    count = f"{len(reports)} signature{'s' if len(reports) > 1 else ''} valid"
    later = [report for report in reports if report.revoked_later]
    if later:
        count += f" ({', '.join(report.field_name for report in later)} made before the seal was revoked)"
    if changed:
        return "valid", f"{count}; the file was updated after the last one, in ways the signatures allow"
    return "valid", f"{count}; the file is unchanged since the last one"

"""Verification of a PDF's signatures and document time-stamps with pyHanko's validator: one report per
signature, a verdict with a human reason, and whether the file changed after the last signature."""

from __future__ import annotations

import datetime as dt
import enum
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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

from app.pdf.errors import EncryptedPdfError, InvalidPdfError
from app.pki.trust import validation_context

__all__ = [
    "ModificationLevel",
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
    """What a verifier can say about one signature (or document time-stamp) of the PDF."""

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
    coverage: SignatureCoverageLevel | None
    modification_level: ModificationLevel | None
    docmdp_ok: bool | None
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class VerificationReport:
    """Every signature in revision order, and the verdict on the document as a whole."""

    signatures: tuple[SignatureReport, ...]
    changed_after_last_signature: bool
    verdict: Verdict
    reason: str


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
    reader = _open(data)
    trust = _Trust(_context(trust_roots, crls), tuple(trust_roots), tuple(crls), seal_names or {})
    try:
        reports = tuple(_examine(reader, trust))
    except PyHankoPdfError as exc:
        raise InvalidPdfError(f"the PDF's form fields cannot be read: {exc}") from exc
    if not reports:
        return VerificationReport((), False, "unsigned", "the PDF carries no signature")
    coverages = [report.coverage for report in reports if report.coverage is not None]
    changed = bool(coverages) and coverages[-1] != SignatureCoverageLevel.ENTIRE_FILE
    verdict, reason = _overall(reports, changed)
    return VerificationReport(reports, changed, verdict, reason)


def _open(data: bytes) -> PdfFileReader:
    if b"%PDF-" not in data[:1024]:  # readers accept up to 1 KiB of junk before the header
        raise InvalidPdfError("the file is not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted and reader.decrypt(b"").status == AuthStatus.FAILED:
            raise EncryptedPdfError("the PDF is encrypted with a password; verification needs it")
        reader.root  # noqa: B018 - reading the catalog surfaces a broken cross-reference table now
    except (PyHankoPdfError, ValueError, KeyError) as exc:
        raise InvalidPdfError(f"the PDF cannot be read: {exc}") from exc
    return reader


def _context(
    trust_roots: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> ValidationContext:
    return validation_context(trust_roots, crls, "hard-fail" if crls else "soft-fail")


def _examine(reader: PdfFileReader, trust: _Trust) -> list[SignatureReport]:
    """Reports in the order the signatures were made; unreadable signatures come last."""
    readable: list[EmbeddedPdfSignature] = []
    broken: list[SignatureReport] = []
    for field_name, _value, field in enumerate_sig_fields(reader, filled_status=True):
        try:
            readable.append(EmbeddedPdfSignature(reader, field, field_name))
        except (PyHankoPdfError, ValueError, KeyError, TypeError) as exc:
            broken.append(_broken(field_name, f"the signature data is not a readable CMS object ({_short(exc)})"))
    readable.sort(key=lambda embedded: embedded.signed_revision)
    return [_report(embedded, trust) for embedded in readable] + broken


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."


def _broken(field_name: str, reason: str) -> SignatureReport:
    return SignatureReport(
        field_name=field_name, kind="signature", signer="", certificate_serial=None, seal_name=None,
        signing_time=None, timestamp_time=None, timestamp_valid=False, timestamp_trusted=False,
        intact=False, valid=False, trusted=False, revoked=False,
        coverage=None, modification_level=None, docmdp_ok=None, verdict="invalid", reason=reason,
    )


def _report(embedded: EmbeddedPdfSignature, trust: _Trust) -> SignatureReport:
    try:
        if embedded.sig_object_type == "/DocTimeStamp":
            return _timestamp_report(embedded, validate_pdf_timestamp(embedded, trust.context))
        return _signature_report(embedded, validate_pdf_signature(embedded, trust.context), trust)
    except (PyHankoPdfError, ValueError, KeyError) as exc:  # pyHanko's SignatureValidationError is a ValueError
        return _broken(str(embedded.field_name), f"the signature cannot be validated: {_short(exc)}")


def _common_name(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.native.get("common_name", cert.subject.human_friendly))


def _signature_report(embedded: EmbeddedPdfSignature, status: PdfSignatureStatus, trust: _Trust) -> SignatureReport:
    cert = status.signing_cert
    serial = int(cert.serial_number)
    listed = None if status.revoked else _listed_in_crl(cert, trust)
    ts = status.timestamp_validity
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
        trusted=status.trusted and listed is None,
        revoked=status.revoked or listed is not None,
        coverage=status.coverage,
        modification_level=status.modification_level,
        docmdp_ok=status.docmdp_ok,
        verdict="valid",
        reason="",
    )
    problems = _signature_problems(facts, status, listed) + _modification_problems(facts, embedded)
    return _judged(facts, problems, has_timestamp=ts is not None)


def _timestamp_report(embedded: EmbeddedPdfSignature, status: DocumentTimestampStatus) -> SignatureReport:
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
        trusted=status.trusted,
        revoked=status.revoked,
        coverage=status.coverage,
        modification_level=status.modification_level,
        docmdp_ok=status.docmdp_ok,
        verdict="valid",
        reason="",
    )
    problems = _signature_problems(facts, status, None) + _modification_problems(facts, embedded)
    return _judged(facts, problems, has_timestamp=True)


def _signature_problems(
    facts: SignatureReport,
    status: PdfSignatureStatus | DocumentTimestampStatus,
    listed: x509.RevokedCertificate | None,
) -> list[tuple[Verdict, str]]:
    problems: list[tuple[Verdict, str]] = []
    if not facts.intact:
        problems.append(("invalid", "the signed bytes were changed after signing (their digest does not match)"))
    elif not facts.valid:
        problems.append(("invalid", "the cryptographic signature does not verify against the signer's certificate"))
    if status.revocation_details is not None:
        whose = "a CA certificate in the signer's chain" if status.revocation_details.ca_revoked else "the certificate"
        when = status.revocation_details.revocation_date.isoformat()
        why = status.revocation_details.revocation_reason.human_friendly
        problems.append(("revoked", f"{whose} of {facts.signer!r} was revoked on {when} ({why})"))
    elif listed is not None:
        when = listed.revocation_date_utc.isoformat()
        problems.append(("revoked", f"the certificate of {facts.signer!r} is listed as revoked on {when} in a CRL"))
    elif facts.intact and facts.valid and not status.trusted:
        problems.append(("untrusted", _untrusted_reason(facts, status)))
    if isinstance(status, PdfSignatureStatus):
        problems += _timestamp_problems(status.timestamp_validity)
    return problems


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
    # Without a certification signature SealFlow allows what multi-party signing needs: signatures and form
    # filling (pyHanko would also let annotations through, and an annotation can cover the signed text).
    certified = embedded.docmdp_level
    allowed = certified.value if certified is not None else ModificationLevel.FORM_FILLING.value
    if facts.docmdp_ok is False or level.value > allowed:
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
        later = "" if facts.coverage == SignatureCoverageLevel.ENTIRE_FILE else "; later updates are allowed ones"
        reason = f"signed by {facts.signer!r}{when}, unchanged since signing{later}"
        return replace(facts, verdict="valid", reason=reason)
    worst = max(problems, key=lambda problem: _SEVERITY[problem[0]])
    others = [text for _verdict, text in problems if text != worst[1]]
    return replace(facts, verdict=worst[0], reason="; ".join([worst[1], *others]))


def _listed_in_crl(cert: asn1_x509.Certificate, trust: _Trust) -> x509.RevokedCertificate | None:
    """A revocation in a CRL from one of the trusted roots. pyHanko's hard-fail mode only consults CRLs for
    certificates that name a distribution point; a revoked seal certificate without one must not pass."""
    serial = int(cert.serial_number)
    issuer = x509.load_der_x509_certificate(cert.dump()).issuer
    for crl in trust.crls:
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        if entry is not None and crl.issuer == issuer and _signed_by_root(crl, trust.roots):
            return entry
    return None


def _signed_by_root(crl: x509.CertificateRevocationList, roots: Sequence[x509.Certificate]) -> bool:
    for root in roots:
        key = root.public_key()
        if root.subject == crl.issuer and isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            if crl.is_signature_valid(key):
                return True
    return False


def _overall(reports: Sequence[SignatureReport], changed: bool) -> tuple[Verdict, str]:
    worst = max(reports, key=lambda report: _SEVERITY[report.verdict])
    if worst.verdict != "valid":
        return worst.verdict, f"{worst.field_name}: {worst.reason}"
    count = f"{len(reports)} signature{'s' if len(reports) > 1 else ''}"
    if changed:
        return "valid", f"{count} valid; the file was updated after the last one, in ways the signatures allow"
    return "valid", f"{count} valid; the file is unchanged since the last one"

"""Revocation as a verifier judges it: a trusted CRL's entry for a signer's certificate (when, why), and whether a
trusted time proves that the signature was made before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.sign.validation.status import SignatureStatus

__all__ = ["Revocation", "find_revocation", "made_before"]

_REASON_WORDS = {
    x509.ReasonFlags.unspecified: "reason not given",
    x509.ReasonFlags.key_compromise: "key compromise",
    x509.ReasonFlags.ca_compromise: "CA compromise",
    x509.ReasonFlags.affiliation_changed: "affiliation changed",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessation of operation",
    x509.ReasonFlags.certificate_hold: "certificate on hold",
    x509.ReasonFlags.remove_from_crl: "removed from the CRL",
    x509.ReasonFlags.privilege_withdrawn: "privilege withdrawn",
    x509.ReasonFlags.aa_compromise: "attribute authority compromise",
}


@dataclass(frozen=True)
class Revocation:
    """A revocation of the signer's certificate (or, `of_ca`, of a CA certificate above it) found in a trusted CRL.

    :param revoked_at: when it was revoked (UTC, whole seconds as CRLs keep them).
    :param reason: the RFC 5280 reason code; ``unspecified`` when the CRL entry gives none.
    :param of_ca: a CA certificate in the signer's chain was revoked, not the signer's own.
    """

    revoked_at: dt.datetime
    reason: x509.ReasonFlags
    of_ca: bool = False

    def describe(self) -> str:
        """"2026-12-01 09:30:00 UTC (key compromise)"."""
        return f"{self.revoked_at:%Y-%m-%d %H:%M:%S} UTC ({_REASON_WORDS[self.reason]})"


def find_revocation(
    status: SignatureStatus,
    cert: asn1_x509.Certificate,
    roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
) -> Revocation | None:
    """The revocation pyHanko's validator found, else an entry for the certificate in a CRL signed by a root.

    pyHanko's hard-fail mode only consults CRLs for certificates that name a distribution point; a revoked seal
    certificate without one must not pass, hence the second look.
    """
    details = status.revocation_details
    if details is not None:
        reason = x509.ReasonFlags.__members__.get(str(details.revocation_reason.native), x509.ReasonFlags.unspecified)
        return Revocation(details.revocation_date.astimezone(dt.UTC), reason, details.ca_revoked)
    entry = _listed_in_crl(cert, roots, crls)
    if entry is None:
        return None
    return Revocation(entry.revocation_date_utc, _reason(entry))


def made_before(proof: dt.datetime | None, revocation: Revocation) -> bool:
    """Whether a trusted time (a time-stamp over the signature) proves it was made before the revocation.

    For keyCompromise RFC 5280 practice distrusts signatures from the time the key was compromised, which may be
    earlier than the revocation; SealFlow only knows when the compromise was declared, so keyCompromise is judged
    by that date like the other reasons. Without a trusted time nothing proves the signature came first.
    """
    return proof is not None and proof < revocation.revoked_at


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return x509.ReasonFlags.unspecified


def _listed_in_crl(
    cert: asn1_x509.Certificate, roots: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> x509.RevokedCertificate | None:
    serial = int(cert.serial_number)
    issuer = x509.load_der_x509_certificate(cert.dump()).issuer
    for crl in crls:
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        if entry is not None and crl.issuer == issuer and _signed_by_root(crl, roots):
            return entry
    return None


def _signed_by_root(crl: x509.CertificateRevocationList, roots: Sequence[x509.Certificate]) -> bool:
    for root in roots:
        key = root.public_key()
        if root.subject == crl.issuer and isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            if crl.is_signature_valid(key):
                return True
    return False

"""Bridges from `cryptography` objects to what pyHanko's validator expects: one place for both."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import ValidationContext

__all__ = ["asn1_certificate", "validation_context"]


def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    """The certificate as asn1crypto reads it (pyHanko's certificate type)."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@functools.lru_cache(maxsize=64)
def _trust_root(cert: x509.Certificate) -> asn1_x509.Certificate:
    # A root is converted for every verification; once per certificate is enough (the validator only reads it).
    return asn1_certificate(cert)


def validation_context(
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    revocation_mode: Literal["soft-fail", "hard-fail"],
    moment: dt.datetime | None = None,
) -> ValidationContext:
    """Trust exactly these roots and revocation lists; never fetch anything over the network.

    :param moment: validate as of this (aware) time rather than now; the CRLs, though issued later, then tell
        whether a certificate had been revoked by that time (their entries carry the revocation dates).
    """
    return ValidationContext(
        trust_roots=[_trust_root(root) for root in trust_roots],
        crls=[crl.public_bytes(serialization.Encoding.DER) for crl in crls],
        allow_fetching=False,
        revocation_mode=revocation_mode,
        moment=moment,
        retroactive_revinfo=moment is not None,
    )

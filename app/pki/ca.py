"""Keys and certificates of the organisation's own CA, and keys encrypted at rest."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pki.errors import SigningError

__all__ = [
    "CertifiedKey",
    "PublicKey",
    "certify_seal_key",
    "KeyAlgorithm",
    "PrivateKey",
    "RevocationSpec",
    "create_crl",
    "create_root_ca",
    "decrypt_key",
    "encrypt_key",
    "issue_seal_certificate",
    "issue_tsa_certificate",
    "load_certificate",
]

KeyAlgorithm = Literal["rsa2048", "ec-p256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class CertifiedKey:
    """A private key and its certificate."""

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _new_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key algorithm {algorithm!r}; use rsa2048 or ec-p256")


def _key_id(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def create_root_ca(organisation: str, algorithm: KeyAlgorithm = "rsa2048", years: int = 20) -> CertifiedKey:
    """Create a self-signed root CA for the organisation."""
    key = _new_key(algorithm)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Root CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_key_id(key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


def _end_entity_usage(*, content_commitment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=content_commitment, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )


def _issue(
    ca: CertifiedKey, subject: x509.Name, public_key: PublicKey, years: int, crl_url: str | None
) -> x509.CertificateBuilder:
    """The parts every end-entity certificate of the CA shares; the caller adds its usages and signs."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=365 * years), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if crl_url is not None:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder


def _subject(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue_seal_certificate(
    ca: CertifiedKey,
    seal_name: str,
    organisation: str,
    algorithm: KeyAlgorithm = "rsa2048",
    years: int = 5,
    *,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Create a signing key for a seal and a certificate for it issued by the CA.

    :param crl_url: where the CA publishes its CRL; verifiers only consult a CRL for certificates that name one.
    """
    key = _new_key(algorithm)
    return CertifiedKey(key, certify_seal_key(ca, key.public_key(), seal_name, organisation, years, crl_url=crl_url))


def certify_seal_key(
    ca: CertifiedKey,
    public_key: PublicKey,
    seal_name: str,
    organisation: str,
    years: int = 5,
    *,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A seal certificate for a key the CA never sees (one generated inside a PKCS#11 token, say)."""
    return (
        _issue(ca, _subject(organisation, seal_name), public_key, years, crl_url)
        .add_extension(_end_entity_usage(content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def issue_tsa_certificate(
    ca: CertifiedKey,
    organisation: str,
    algorithm: KeyAlgorithm = "rsa2048",
    years: int = 5,
    *,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Create the key and certificate of the organisation's time-stamp authority, issued by the CA.

    RFC 3161 section 2.3: the certificate carries exactly one extended key usage, timeStamping, marked critical.
    """
    key = _new_key(algorithm)
    cert = (
        _issue(ca, _subject(organisation, f"{organisation} Time-Stamp Authority"), key.public_key(), years, crl_url)
        .add_extension(_end_entity_usage(content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


@dataclass(frozen=True)
class RevocationSpec:
    """One entry of a CRL: which certificate, since when, and why (RFC 5280 section 5.3.1).

    :param serial_number: the revoked certificate's serial number.
    :param revoked_at: when it was revoked; a naive time is taken as UTC. A CRL keeps whole seconds.
    :param reason: the reason code; None leaves the entry without one (read as unspecified).
    """

    serial_number: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None = None


def create_crl(
    ca: CertifiedKey, revoked: Sequence[RevocationSpec], next_update_days: int = 7
) -> x509.CertificateRevocationList:
    """A CRL signed by the CA listing the revoked certificates, each with its date and reason code.

    :param revoked: the entries.
    :param next_update_days: how long verifiers may rely on this CRL.
    """
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=next_update_days))
        # CRL numbers must grow; the issue time in milliseconds does without a stored counter.
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    for spec in revoked:
        builder = builder.add_revoked_certificate(_crl_entry(spec))
    return builder.sign(ca.key, hashes.SHA256())


def _crl_entry(spec: RevocationSpec) -> x509.RevokedCertificate:
    when = spec.revoked_at if spec.revoked_at.tzinfo is not None else spec.revoked_at.replace(tzinfo=dt.UTC)
    entry = x509.RevokedCertificateBuilder().serial_number(spec.serial_number).revocation_date(when)
    # RFC 5280 section 5.3.1: the reason code "unspecified" SHOULD be absent rather than written.
    if spec.reason is not None and spec.reason != x509.ReasonFlags.unspecified:
        entry = entry.add_extension(x509.CRLReason(spec.reason), critical=False)
    return entry.build()


def _wrapping_passphrase(secret: str) -> bytes:
    # HKDF turns the configured secret into a dedicated key-wrapping passphrase.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sealflow-key-wrap", info=b"pkcs8").derive(
        secret.encode("utf-8")
    )
    return base64.b64encode(derived)


def encrypt_key(key: PrivateKey, secret: str) -> bytes:
    """PKCS#8 PEM of the key, encrypted with a passphrase derived from `secret`."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_wrapping_passphrase(secret)),
    )


def decrypt_key(encrypted: bytes, secret: str) -> PrivateKey:
    """Inverse of encrypt_key; a wrong secret raises SigningError."""
    try:
        key = serialization.load_pem_private_key(encrypted, password=_wrapping_passphrase(secret))
    except (ValueError, TypeError) as exc:
        raise SigningError("cannot decrypt the signing key: the key secret does not match") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError("unsupported key type")
    return key


def load_certificate(pem: str) -> x509.Certificate:
    """Parse a PEM certificate."""
    return x509.load_pem_x509_certificate(pem.encode("ascii"))

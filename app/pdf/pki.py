"""Keys and certificates of the organisation's own CA, and keys encrypted at rest."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pdf.errors import SigningError

__all__ = [
    "CertifiedKey",
    "KeyAlgorithm",
    "PrivateKey",
    "create_root_ca",
    "decrypt_key",
    "encrypt_key",
    "issue_seal_certificate",
    "load_certificate",
]

KeyAlgorithm = Literal["rsa2048", "ec-p256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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


def issue_seal_certificate(
    ca: CertifiedKey, seal_name: str, organisation: str, algorithm: KeyAlgorithm = "rsa2048", years: int = 5
) -> CertifiedKey:
    """Create a signing key for a seal and a certificate for it issued by the CA."""
    key = _new_key(algorithm)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, seal_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=365 * years), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(_key_id(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


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

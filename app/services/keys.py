"""The organisation's trust services (root CA, time-stamp authority, revocation list) and seal keys,
kept encrypted in the database or inside a PKCS#11 token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import current_app
from sqlalchemy import select

from app.errors import PolicyViolation, SigningFailed
from app.extensions import db
from app.models import CertificateAuthority, Seal
from app.models.audit import Actor, record
from app.pdf import LongTermSpec, SigningIdentity, make_signer
from app.pki import (
    CertifiedKey,
    Pkcs11KeySpec,
    RevocationSpec,
    Signer,
    TimeStampAuthority,
    TimeStamper,
    certify_seal_key,
    create_crl,
    create_root_ca,
    decrypt_key,
    encrypt_key,
    external_timestamper,
    generate_key_in_token,
    issue_seal_certificate,
    issue_tsa_certificate,
    load_certificate,
    open_pkcs11_signer,
    store_certificate_in_token,
)
from app.services.documents import pdf_errors


def _secret() -> str:
    return str(current_app.config["KEY_SECRET"])


def ensure_root_ca() -> CertificateAuthority:
    """The organisation's root CA, created on first use."""
    ca = db.session.execute(select(CertificateAuthority).order_by(CertificateAuthority.id).limit(1)).scalar()
    if ca is not None:
        return ca
    organisation = current_app.config["ORGANISATION_NAME"]
    created = create_root_ca(organisation, current_app.config["SEAL_KEY_ALGORITHM"])
    ca = CertificateAuthority(
        name=organisation, certificate_pem=created.certificate_pem, encrypted_key=encrypt_key(created.key, _secret())
    )
    db.session.add(ca)
    db.session.flush()
    return ca


def root_certificate_pem() -> str:
    """The root CA certificate, PEM, for relying parties' trust stores."""
    return ensure_root_ca().certificate_pem


def _root_key() -> CertifiedKey:
    ca_row = ensure_root_ca()
    return CertifiedKey(decrypt_key(ca_row.encrypted_key, _secret()), load_certificate(ca_row.certificate_pem))


def crl_url() -> str:
    """Where relying parties fetch the organisation's certificate revocation list."""
    return f"{current_app.config['PUBLIC_URL']}/pki/crl"


def new_seal_key(seal_name: str) -> tuple[str, bytes]:
    """Issue a key and certificate for a seal: (certificate PEM, encrypted key)."""
    issued = issue_seal_certificate(
        _root_key(), seal_name, current_app.config["ORGANISATION_NAME"], current_app.config["SEAL_KEY_ALGORITHM"],
        crl_url=crl_url(),
    )
    return issued.certificate_pem, encrypt_key(issued.key, _secret())


def trust_roots() -> tuple[x509.Certificate, ...]:
    """The certificates a SealFlow signature chains up to."""
    return (load_certificate(ensure_root_ca().certificate_pem),)


def revocation_list() -> x509.CertificateRevocationList:
    """A fresh CRL, signed by the root, listing every revoked seal's certificate with when and why."""
    revoked = db.session.execute(select(Seal).where(Seal.revoked_at.is_not(None))).scalars()
    entries = [RevocationSpec(load_certificate(seal.certificate_pem).serial_number, seal.revoked_at,
                              x509.ReasonFlags(seal.revocation_reason.value) if seal.revocation_reason else None)
               for seal in revoked if seal.revoked_at is not None]
    return create_crl(_root_key(), entries)


def seal_names() -> dict[int, str]:
    """Seal name by certificate serial number, so that reports name the seal rather than a number."""
    return {load_certificate(seal.certificate_pem).serial_number: seal.name
            for seal in db.session.execute(select(Seal)).scalars()}


def _time_stamp_authority() -> TimeStampAuthority:
    ca_row = ensure_root_ca()
    if ca_row.tsa_certificate_pem is None or ca_row.tsa_encrypted_key is None:
        issued = issue_tsa_certificate(_root_key(), current_app.config["ORGANISATION_NAME"],
                                       current_app.config["SEAL_KEY_ALGORITHM"])
        ca_row.tsa_certificate_pem = issued.certificate_pem
        ca_row.tsa_encrypted_key = encrypt_key(issued.key, _secret())
        db.session.flush()
    tsa = CertifiedKey(decrypt_key(ca_row.tsa_encrypted_key, _secret()), load_certificate(ca_row.tsa_certificate_pem))
    return TimeStampAuthority(tsa, chain=trust_roots())


def timestamper(level: str | None = None) -> TimeStamper | None:
    """The time-stamp authority seal signatures use: an external one if configured, else SealFlow's own;
    None at level B-B. `level` defaults to the configured SIGNATURE_LEVEL."""
    if (level or current_app.config["SIGNATURE_LEVEL"]) == "B-B":
        return None
    if current_app.config["TSA_URL"]:
        return external_timestamper(current_app.config["TSA_URL"], current_app.config["TSA_TIMEOUT"])
    return _time_stamp_authority().timestamper()


def long_term(level: str | None = None) -> LongTermSpec | None:
    """Validation data to embed at levels B-LT and B-LTA."""
    level = level or current_app.config["SIGNATURE_LEVEL"]
    if level not in ("B-LT", "B-LTA"):
        return None
    return LongTermSpec(trust_roots(), (revocation_list(),), archive=level == "B-LTA")


def signing_identity(seal: Seal) -> SigningIdentity:
    """The seal's decrypted key, its certificate and the root above it (software keys only)."""
    ca_row = ensure_root_ca()
    if seal.encrypted_key is None:
        raise SigningFailed(f"the key of the seal “{seal.name}” is in a PKCS#11 token, not in the database")
    return SigningIdentity(
        key=decrypt_key(seal.encrypted_key, _secret()),
        certificate=load_certificate(seal.certificate_pem),
        chain=(load_certificate(ca_row.certificate_pem),),
    )


def _token_spec(key_label: str) -> Pkcs11KeySpec:
    config = current_app.config
    if not (config["PKCS11_MODULE"] and config["PKCS11_TOKEN"] and config["PKCS11_PIN_FILE"]):
        raise SigningFailed("no PKCS#11 token is configured: set SEALFLOW_PKCS11_MODULE, SEALFLOW_PKCS11_TOKEN "
                            "and SEALFLOW_PKCS11_PIN_FILE")
    pin_file = Path(config["PKCS11_PIN_FILE"])
    # The PIN is read when a session opens, never kept in the configuration.
    return Pkcs11KeySpec(config["PKCS11_MODULE"], config["PKCS11_TOKEN"], key_label,
                         lambda: pin_file.read_text().strip())


def move_seal_key_to_token(seal: Seal, actor: Actor) -> None:
    """Give the seal a new key generated inside the token (it never leaves it) and a certificate for it; the
    software key is discarded. Documents sealed before stay valid: the old certificate is not revoked."""
    if seal.token_key_label is not None:
        raise PolicyViolation(f"the key of the seal “{seal.name}” is already in the token")
    label = f"sealflow-seal-{seal.id}"
    spec = _token_spec(label)
    with pdf_errors():
        public_key = generate_key_in_token(spec, current_app.config["SEAL_KEY_ALGORITHM"])
        certificate = certify_seal_key(_root_key(), public_key, seal.name, current_app.config["ORGANISATION_NAME"],
                                       crl_url=crl_url())
        store_certificate_in_token(spec, certificate)
    seal.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    seal.encrypted_key = None
    seal.token_key_label = label
    record(actor, "seal.key_moved_to_token", "seal", seal.id, key_label=label,
           certificate_serial=str(certificate.serial_number))


@contextmanager
def signer_for(seal: Seal) -> Iterator[Signer]:
    """A signer for the seal's key, wherever it lives; a token session stays open only inside the block."""
    if seal.token_key_label is None:
        yield make_signer(signing_identity(seal))
        return
    with open_pkcs11_signer(_token_spec(seal.token_key_label), chain=trust_roots(),
                            certificate=load_certificate(seal.certificate_pem)) as signer:
        yield signer

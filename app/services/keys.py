"""The organisation's trust services (root CA, time-stamp authority, revocation list) and seal keys,
kept encrypted in the database."""

from __future__ import annotations

from cryptography import x509
from flask import current_app
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy import select

from app.extensions import db
from app.models import CertificateAuthority, Seal
from app.pdf import LongTermSpec, SigningIdentity, TimeStampAuthority, external_timestamper
from app.pdf.pki import (
    CertifiedKey,
    create_crl,
    create_root_ca,
    decrypt_key,
    encrypt_key,
    issue_seal_certificate,
    issue_tsa_certificate,
    load_certificate,
)


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
    """A fresh CRL, signed by the root, listing every revoked seal's certificate."""
    revoked = db.session.execute(select(Seal).where(Seal.revoked_at.is_not(None))).scalars()
    entries = [(load_certificate(seal.certificate_pem).serial_number, seal.revoked_at)
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
    """The seal's decrypted key, its certificate and the root above it."""
    ca_row = ensure_root_ca()
    return SigningIdentity(
        key=decrypt_key(seal.encrypted_key, _secret()),
        certificate=load_certificate(seal.certificate_pem),
        chain=(load_certificate(ca_row.certificate_pem),),
    )

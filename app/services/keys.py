"""The organisation CA and seal keys, kept encrypted in the database."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import CertificateAuthority, Seal
from app.pdf import SigningIdentity
from app.pdf.pki import CertifiedKey, create_root_ca, decrypt_key, encrypt_key, issue_seal_certificate, load_certificate


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


def new_seal_key(seal_name: str) -> tuple[str, bytes]:
    """Issue a key and certificate for a seal: (certificate PEM, encrypted key)."""
    ca_row = ensure_root_ca()
    ca = CertifiedKey(decrypt_key(ca_row.encrypted_key, _secret()), load_certificate(ca_row.certificate_pem))
    issued = issue_seal_certificate(
        ca, seal_name, current_app.config["ORGANISATION_NAME"], current_app.config["SEAL_KEY_ALGORITHM"]
    )
    return issued.certificate_pem, encrypt_key(issued.key, _secret())


def signing_identity(seal: Seal) -> SigningIdentity:
    """The seal's decrypted key, its certificate and the root above it."""
    ca_row = ensure_root_ca()
    return SigningIdentity(
        key=decrypt_key(seal.encrypted_key, _secret()),
        certificate=load_certificate(seal.certificate_pem),
        chain=(load_certificate(ca_row.certificate_pem),),
    )

"""The organisation's trust services (root CA, time-stamp authority, revocation list) and seal keys,
kept encrypted in the database or inside a PKCS#11 token."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from flask import current_app
from sqlalchemy import select

from app.errors import NotFound, PolicyViolation, SigningFailed
from app.extensions import db
from app.models import CertificateAuthority, FormerCertificate, Seal, SealStatus
from app.models.audit import Actor, record
from app.pki import (  # app.pki.ca: cryptography only; the pyHanko and PKCS#11 parts are imported where used
    CertifiedKey,
    RevocationSpec,
    certify_seal_key,
    create_crl,
    create_root_ca,
    decrypt_key,
    encrypt_key,
    issue_seal_certificate,
    issue_tsa_certificate,
    load_certificate,
)
from app.services.documents import pdf_errors

if TYPE_CHECKING:
    from app.pdf import LongTermSpec, SigningIdentity
    from app.pki import Pkcs11KeySpec, Signer, TimeStampAuthority, TimeStamper


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


def certificate_serials(seal: Seal) -> list[int]:
    """The serial numbers of every certificate the seal has had: the current one first, then those renewals
    replaced, newest first."""
    return [load_certificate(seal.certificate_pem).serial_number,
            *(int(former.serial_number, 16) for former in seal.former_certificates)]


def revocation_list() -> x509.CertificateRevocationList:
    """A fresh CRL, signed by the root, listing every certificate of every revoked seal (the current one and those
    renewals replaced) with when and why the seal was revoked."""
    revoked = db.session.execute(select(Seal).where(Seal.revoked_at.is_not(None))).scalars()
    entries = [RevocationSpec(serial, seal.revoked_at,
                              x509.ReasonFlags(seal.revocation_reason.value) if seal.revocation_reason else None)
               for seal in revoked if seal.revoked_at is not None for serial in certificate_serials(seal)]
    return create_crl(_root_key(), entries)


def seal_names() -> dict[int, str]:
    """Seal name by certificate serial number (former certificates too), so that reports name the seal rather
    than a number."""
    return {serial: seal.name for seal in db.session.execute(select(Seal)).scalars()
            for serial in certificate_serials(seal)}


def _time_stamp_authority() -> TimeStampAuthority:
    from app.pki import TimeStampAuthority

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
    from app.pki import external_timestamper

    if (level or current_app.config["SIGNATURE_LEVEL"]) == "B-B":
        return None
    if current_app.config["TSA_URL"]:
        return external_timestamper(current_app.config["TSA_URL"], current_app.config["TSA_TIMEOUT"])
    return _time_stamp_authority().timestamper()


def tsa_certificate() -> x509.Certificate:
    """The certificate of SealFlow's own time-stamp authority (created with it on first use; read without
    decrypting its key)."""
    ca_row = ensure_root_ca()
    if ca_row.tsa_certificate_pem is None:
        return _time_stamp_authority().certificate
    return load_certificate(ca_row.tsa_certificate_pem)


def anchor_trust_roots() -> tuple[x509.Certificate, ...]:
    """The roots an audit anchor's time-stamp may chain up to: the organisation's, and those of an external TSA
    (TSA_TRUST_FILE, PEM), whose certificate the tokens carry."""
    extra: tuple[x509.Certificate, ...] = ()
    if current_app.config["TSA_TRUST_FILE"]:
        extra = tuple(x509.load_pem_x509_certificates(Path(current_app.config["TSA_TRUST_FILE"]).read_bytes()))
    return trust_roots() + extra


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def time_stamp(digest: bytes) -> bytes:
    """An RFC 3161 token (DER) over a SHA-256 digest, from the configured TSA (external if set, else SealFlow's own),
    whatever the signature level: the audit chain's anchors are always time-stamped."""
    from app.pki import external_timestamper, time_stamp_token

    if current_app.config["TSA_URL"]:
        return time_stamp_token(external_timestamper(current_app.config["TSA_URL"], current_app.config["TSA_TIMEOUT"]),
                                digest)
    return time_stamp_token(_time_stamp_authority().timestamper(), digest)


def long_term(level: str | None = None) -> LongTermSpec | None:
    """Validation data to embed at levels B-LT and B-LTA."""
    from app.pdf import LongTermSpec

    level = level or current_app.config["SIGNATURE_LEVEL"]
    if level not in ("B-LT", "B-LTA"):
        return None
    return LongTermSpec(trust_roots(), (revocation_list(),), archive=level == "B-LTA")


def system_identity() -> SigningIdentity:
    """The organisation's system seal: SealFlow's own key and certificate (issued by the root on first use) for the
    documents SealFlow itself issues, such as certificates of completion."""
    from app.pdf import SigningIdentity

    ca_row = ensure_root_ca()
    if ca_row.system_certificate_pem is None or ca_row.system_encrypted_key is None:
        organisation = current_app.config["ORGANISATION_NAME"]
        issued = issue_seal_certificate(_root_key(), f"{organisation} SealFlow system seal", organisation,
                                        current_app.config["SEAL_KEY_ALGORITHM"], crl_url=crl_url())
        ca_row.system_certificate_pem = issued.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        ca_row.system_encrypted_key = encrypt_key(issued.key, _secret())
        db.session.flush()
    return SigningIdentity(key=decrypt_key(ca_row.system_encrypted_key, _secret()),
                           certificate=load_certificate(ca_row.system_certificate_pem),
                           chain=(load_certificate(ca_row.certificate_pem),))


def signing_identity(seal: Seal) -> SigningIdentity:
    """The seal's decrypted key, its certificate and the root above it (software keys only)."""
    from app.pdf import SigningIdentity

    ca_row = ensure_root_ca()
    if seal.encrypted_key is None:
        raise SigningFailed(f"the key of the seal “{seal.name}” is in a PKCS#11 token, not in the database")
    return SigningIdentity(
        key=decrypt_key(seal.encrypted_key, _secret()),
        certificate=load_certificate(seal.certificate_pem),
        chain=(load_certificate(ca_row.certificate_pem),),
    )


def _token_spec(key_label: str) -> Pkcs11KeySpec:
    from app.pki import Pkcs11KeySpec

    config = current_app.config
    if not (config["PKCS11_MODULE"] and config["PKCS11_TOKEN"] and config["PKCS11_PIN_FILE"]):
        raise SigningFailed("no PKCS#11 token is configured: set SEALFLOW_PKCS11_MODULE, SEALFLOW_PKCS11_TOKEN "
                            "and SEALFLOW_PKCS11_PIN_FILE")
    pin_file = Path(config["PKCS11_PIN_FILE"])
    # The PIN is read when a session opens, never kept in the configuration.
    return Pkcs11KeySpec(config["PKCS11_MODULE"], config["PKCS11_TOKEN"], key_label,
                         lambda: pin_file.read_text().strip())


def _serial_hex(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "X")


def _retire_certificate(seal: Seal, because: str) -> FormerCertificate:
    """Keep the seal's current certificate among its former ones (its key is discarded by the caller)."""
    current = load_certificate(seal.certificate_pem)
    former = FormerCertificate(seal_id=seal.id, certificate_pem=seal.certificate_pem,
                               serial_number=_serial_hex(current), replaced_because=because)
    seal.former_certificates.insert(0, former)
    return former


def _token_key(seal: Seal, label: str) -> x509.Certificate:
    """A new key generated inside the token under `label`, and its certificate, stored beside it."""
    from app.pki import generate_key_in_token, store_certificate_in_token

    spec = _token_spec(label)
    with pdf_errors():
        public_key = generate_key_in_token(spec, current_app.config["SEAL_KEY_ALGORITHM"])
        certificate = certify_seal_key(_root_key(), public_key, seal.name, current_app.config["ORGANISATION_NAME"],
                                       crl_url=crl_url())
        store_certificate_in_token(spec, certificate)
    return certificate


def move_seal_key_to_token(seal: Seal, actor: Actor) -> None:
    """Give the seal a new key generated inside the token (it never leaves it) and a certificate for it; the
    software key is discarded. Documents sealed before stay valid: the old certificate is not revoked, and is kept
    among the seal's former certificates."""
    if seal.token_key_label is not None:
        raise PolicyViolation(f"the key of the seal “{seal.name}” is already in the token")
    label = f"sealflow-seal-{seal.id}"
    certificate = _token_key(seal, label)
    former = _retire_certificate(seal, "moved_to_token")
    seal.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    seal.encrypted_key = None
    seal.token_key_label = label
    db.session.flush()
    record(actor, "seal.key_moved_to_token", "seal", seal.id, key_label=label,
           certificate_serial=str(certificate.serial_number), previous_serial=former.serial_number)


def renew_seal_certificate(seal_id: int, actor: Actor) -> Seal:
    """Give the seal a new key and certificate from the organisation CA, where its key lives now (the database,
    encrypted, or the PKCS#11 token under a new label); the old key is discarded and the old certificate kept, not
    revoked, so that documents signed before still verify and name the seal. Refused for a revoked seal."""
    seal = db.session.execute(select(Seal).where(Seal.id == seal_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar()
    if seal is None:
        raise NotFound(f"seal {seal_id} does not exist")
    if seal.status == SealStatus.REVOKED:
        raise PolicyViolation(f"the seal “{seal.name}” is revoked for good; its certificate is not renewed")
    if seal.token_key_label is None:
        certificate_pem, encrypted_key = new_seal_key(seal.name)
        label = None
    else:
        label = f"sealflow-seal-{seal.id}-{secrets.token_hex(4)}"
        certificate_pem = _token_key(seal, label).public_bytes(serialization.Encoding.PEM).decode("ascii")
        encrypted_key = None
    former = _retire_certificate(seal, "renewed")
    seal.certificate_pem, seal.encrypted_key = certificate_pem, encrypted_key
    if label is not None:
        seal.token_key_label = label
    db.session.flush()
    issued = load_certificate(certificate_pem)
    record(actor, "seal.certificate_renewed", "seal", seal.id, certificate_serial=_serial_hex(issued),
           previous_serial=former.serial_number, not_after=issued.not_valid_after_utc.isoformat(),
           key="token" if label else "database", key_label=label)
    return seal


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate of a seal, as its page lists it: the serial number (hexadecimal), its validity, its SHA-256
    fingerprint (hexadecimal, over the DER encoding, as certificate viewers show it) and, for a former one, when and
    why it was replaced."""

    serial_number: str
    subject: str
    not_before: datetime
    not_after: datetime
    current: bool
    fingerprint: str
    replaced_at: datetime | None = None
    replaced_because: str | None = None


def _info(pem: str, former: FormerCertificate | None = None) -> CertificateInfo:
    certificate = load_certificate(pem)
    subject = certificate.subject.rfc4514_string()
    return CertificateInfo(_serial_hex(certificate), subject, certificate.not_valid_before_utc.replace(tzinfo=None),
                           certificate.not_valid_after_utc.replace(tzinfo=None), former is None,
                           certificate.fingerprint(hashes.SHA256()).hex().upper(),
                           former.replaced_at if former else None, former.replaced_because if former else None)


def certificate_history(seal: Seal) -> list[CertificateInfo]:
    """The seal's certificates: the current one, then those it replaced, newest first."""
    return [_info(seal.certificate_pem), *(_info(f.certificate_pem, f) for f in seal.former_certificates)]


@contextmanager
def signer_for(seal: Seal) -> Iterator[Signer]:
    """A signer for the seal's key, wherever it lives; a token session stays open only inside the block."""
    from app.pdf import make_signer
    from app.pki import open_pkcs11_signer

    if seal.token_key_label is None:
        yield make_signer(signing_identity(seal))
        return
    with open_pkcs11_signer(_token_spec(seal.token_key_label), chain=trust_roots(),
                            certificate=load_certificate(seal.certificate_pem)) as signer:
        yield signer

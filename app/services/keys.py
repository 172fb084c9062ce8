"""The organisation's trust services (root CA, time-stamp authority, revocation list) and seal keys,
kept encrypted in the database or inside a PKCS#11 token."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Row, select

from app import pki  # each name on first use: app.pki.ca imports cryptography (see app/lazy_imports.py)
from app.errors import NotFound, PolicyViolation, SigningFailed
from app.extensions import db
from app.models import CertificateAuthority, FormerCertificate, RevocationReason, Seal, SealStatus
from app.models.audit import Actor, record
from app.services import keyring
from app.services.documents import pdf_errors

if TYPE_CHECKING:  # cryptography is imported where used: a web worker starts without it
    from cryptography import x509

    from app.pdf import LongTermSpec, SigningIdentity
    from app.pki import Pkcs11KeySpec, Signer, TimeStampAuthority, TimeStamper


def _secret() -> str:
    return str(current_app.config["KEY_SECRET"])


_ROOT_CA = "sealflow_root_ca"


def ensure_root_ca() -> CertificateAuthority:
    """The organisation's root CA, created on first use."""
    # Once found, the session keeps it (its identity map alone holds objects weakly): a job signing asks for it
    # several times, one query does. After a commit it is expired, and read again when used, like any object.
    known = db.session.info.get(_ROOT_CA)
    ca = known if known is not None and known in db.session else None
    if ca is None:
        ca = db.session.execute(select(CertificateAuthority).order_by(CertificateAuthority.id).limit(1)).scalar()
    if ca is not None:
        db.session.info[_ROOT_CA] = ca
        return ca
    organisation = current_app.config["ORGANISATION_NAME"]
    created = pki.create_root_ca(organisation, current_app.config["SEAL_KEY_ALGORITHM"])
    ca = CertificateAuthority(name=organisation, certificate_pem=created.certificate_pem,
                              encrypted_key=pki.encrypt_key(created.key, _secret()))
    db.session.add(ca)
    db.session.flush()
    return ca


def root_certificate_pem() -> str:
    """The root CA certificate, PEM, for relying parties' trust stores."""
    return ensure_root_ca().certificate_pem


@functools.lru_cache(maxsize=1024)
def _certificate(pem: str) -> x509.Certificate:
    """A certificate parsed once per process (certificates never change; a PEM is its own cache key)."""
    return pki.load_certificate(pem)


def _root_key(ca_row: CertificateAuthority | None = None) -> pki.CertifiedKey:
    ca_row = ca_row or ensure_root_ca()
    return pki.CertifiedKey(keyring.decrypted(ca_row.encrypted_key, _secret()), _certificate(ca_row.certificate_pem))


def crl_url() -> str:
    """Where relying parties fetch the organisation's certificate revocation list."""
    return f"{current_app.config['PUBLIC_URL']}/pki/crl"


def new_seal_key(seal_name: str) -> tuple[str, bytes]:
    """Issue a key and certificate for a seal: (certificate PEM, encrypted key)."""
    issued = pki.issue_seal_certificate(
        _root_key(), seal_name, current_app.config["ORGANISATION_NAME"], current_app.config["SEAL_KEY_ALGORITHM"],
        crl_url=crl_url(),
    )
    return issued.certificate_pem, pki.encrypt_key(issued.key, _secret())


def trust_roots() -> tuple[x509.Certificate, ...]:
    """The certificates a SealFlow signature chains up to."""
    return (_certificate(ensure_root_ca().certificate_pem),)


def certificate_serials(seal: Seal) -> list[int]:
    """The serial numbers of every certificate the seal has had: the current one first, then those renewals
    replaced, newest first."""
    return [_certificate(seal.certificate_pem).serial_number,
            *(int(former.serial_number, 16) for former in seal.former_certificates)]


_CertificateRow = Row[int, str, str, datetime | None, RevocationReason | None, str]


def _certificates_of_seals(*where: Any) -> Sequence[_CertificateRow]:
    """Each seal's current certificate and those it replaced, newest first, in one query: rows of (id, name, current
    PEM, revoked_at, revocation_reason, a former serial or None)."""
    return db.session.execute(
        select(Seal.id, Seal.name, Seal.certificate_pem, Seal.revoked_at, Seal.revocation_reason,
               FormerCertificate.serial_number)
        .outerjoin(FormerCertificate, FormerCertificate.seal_id == Seal.id).where(*where)
        .order_by(Seal.id, FormerCertificate.id.desc())).all()


def _reason_flag(value: str) -> x509.ReasonFlags:
    from cryptography import x509

    return x509.ReasonFlags(value)


def _revocations(rows: Sequence[_CertificateRow]) -> tuple[pki.RevocationSpec, ...]:
    """Every certificate of every revoked seal among the rows (the current one and those renewals replaced), with
    when and why the seal was revoked."""
    entries: list[pki.RevocationSpec] = []
    listed: set[int] = set()
    for seal_id, _name, pem, revoked_at, reason, former in rows:
        if revoked_at is None:
            continue
        why = _reason_flag(reason.value) if reason else None
        if seal_id not in listed:
            listed.add(seal_id)
            entries.append(pki.RevocationSpec(_certificate(pem).serial_number, revoked_at, why))
        if former is not None:
            entries.append(pki.RevocationSpec(int(former, 16), revoked_at, why))
    return tuple(entries)


def _crl_for(ca_row: CertificateAuthority, entries: tuple[pki.RevocationSpec, ...]) -> x509.CertificateRevocationList:
    state = (keyring.digest(ca_row.encrypted_key, _secret()), ca_row.certificate_pem, entries)
    return keyring.crl(state, lambda: pki.create_crl(_root_key(ca_row), entries))


def revocation_list() -> x509.CertificateRevocationList:
    """The CRL, signed by the root, listing every certificate of every revoked seal (the current one and those
    renewals replaced) with when and why the seal was revoked. Signed again only when that list changes (a
    revocation, committed by any process) or the CRL's nextUpdate nears: the revocations are read on every call."""
    return _crl_for(ensure_root_ca(), _revocations(_certificates_of_seals(Seal.revoked_at.is_not(None))))


def _names(rows: Sequence[_CertificateRow]) -> dict[int, str]:
    names: dict[int, str] = {}
    for _seal_id, name, pem, _revoked_at, _reason, former in rows:
        names[_certificate(pem).serial_number] = name
        if former is not None:
            names[int(former, 16)] = name
    return names


@dataclass(frozen=True)
class VerificationTrust:
    """What a signature is checked against: the roots, the current CRL, and seal names by certificate serial."""

    roots: tuple[x509.Certificate, ...]
    crl: x509.CertificateRevocationList
    seal_names: dict[int, str]


def verification_trust() -> VerificationTrust:
    """The roots, the current CRL and the seal names, read in two queries (the CA, every seal's certificates)."""
    ca_row = ensure_root_ca()
    rows = _certificates_of_seals()
    return VerificationTrust((_certificate(ca_row.certificate_pem),), _crl_for(ca_row, _revocations(rows)),
                             _names(rows))


def seal_names() -> dict[int, str]:
    """Seal name by certificate serial number (former certificates too), so that reports name the seal rather
    than a number."""
    return _names(_certificates_of_seals())


def _time_stamp_authority() -> TimeStampAuthority:
    from app.pki import TimeStampAuthority

    ca_row = ensure_root_ca()
    if ca_row.tsa_certificate_pem is None or ca_row.tsa_encrypted_key is None:
        issued = pki.issue_tsa_certificate(_root_key(), current_app.config["ORGANISATION_NAME"],
                                       current_app.config["SEAL_KEY_ALGORITHM"])
        ca_row.tsa_certificate_pem = issued.certificate_pem
        ca_row.tsa_encrypted_key = pki.encrypt_key(issued.key, _secret())
        db.session.flush()
    encrypted, tsa_pem, root_pem = ca_row.tsa_encrypted_key, ca_row.tsa_certificate_pem, ca_row.certificate_pem

    def authority() -> TimeStampAuthority:
        tsa = pki.CertifiedKey(keyring.decrypted(encrypted, _secret()), _certificate(tsa_pem))
        return TimeStampAuthority(tsa, chain=(_certificate(root_pem),))

    # The authority keeps nothing between tokens but its key and certificates, so one serves every job.
    return keyring.derived("tsa", (keyring.digest(encrypted, _secret()), tsa_pem, root_pem), authority)


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
    return pki.load_certificate(ca_row.tsa_certificate_pem)


def anchor_trust_roots() -> tuple[x509.Certificate, ...]:
    """The roots an audit anchor's time-stamp may chain up to: the organisation's, and those of an external TSA
    (TSA_TRUST_FILE, PEM), whose certificate the tokens carry."""
    from cryptography import x509

    extra: tuple[x509.Certificate, ...] = ()
    if current_app.config["TSA_TRUST_FILE"]:
        extra = tuple(x509.load_pem_x509_certificates(Path(current_app.config["TSA_TRUST_FILE"]).read_bytes()))
    return trust_roots() + extra


def certificate_pem(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

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
        issued = pki.issue_seal_certificate(_root_key(), f"{organisation} SealFlow system seal", organisation,
                                        current_app.config["SEAL_KEY_ALGORITHM"], crl_url=crl_url())
        ca_row.system_certificate_pem = certificate_pem(issued.certificate)
        ca_row.system_encrypted_key = pki.encrypt_key(issued.key, _secret())
        db.session.flush()
    return SigningIdentity(key=keyring.decrypted(ca_row.system_encrypted_key, _secret()),
                           certificate=_certificate(ca_row.system_certificate_pem),
                           chain=(_certificate(ca_row.certificate_pem),))


_SigningRow = Row[int, SealStatus, bytes | None, str | None, str]


def _signing_row(seal: Seal) -> _SigningRow:
    """The seal's status, key and certificate as the database holds them now (not as this session loaded them), for
    a signature; the keys this process keeps for seals that changed since (revoked, suspended, renewed, moved to the
    token, by any process) are dropped on the way, in the same query."""
    kept = keyring.cached_seals()
    rows = db.session.execute(select(Seal.id, Seal.status, Seal.encrypted_key, Seal.token_key_label,
                                     Seal.certificate_pem).where(Seal.id.in_({seal.id, *kept}))).all()
    secret = _secret()
    for row in rows:
        if row.id in kept and (row.status != SealStatus.ACTIVE or row.encrypted_key is None
                               or keyring.digest(row.encrypted_key, secret) != kept[row.id]):
            keyring.forget_seal(row.id)
    for gone in kept.keys() - {row.id for row in rows}:
        keyring.forget_seal(gone)
    current = next((row for row in rows if row.id == seal.id), None)
    if current is None or current.status != SealStatus.ACTIVE:
        status = current.status.value if current is not None else "deleted"
        raise PolicyViolation(f"the seal “{seal.name}” is {status} and cannot be used")
    return current


def _identity_of(seal: Seal, row: _SigningRow) -> SigningIdentity:
    from app.pdf import SigningIdentity

    if row.encrypted_key is None:
        raise SigningFailed(f"the key of the seal “{seal.name}” is in a PKCS#11 token, not in the database")
    return SigningIdentity(
        key=keyring.decrypted(row.encrypted_key, _secret(), seal_id=seal.id),
        certificate=_certificate(row.certificate_pem),
        chain=(_certificate(ensure_root_ca().certificate_pem),),
    )


def signing_identity(seal: Seal) -> SigningIdentity:
    """The seal's decrypted key (kept in this process's memory while the seal stays as it is), its certificate and
    the root above it (software keys only). Only an active seal signs."""
    return _identity_of(seal, _signing_row(seal))


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
    current = pki.load_certificate(seal.certificate_pem)
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
        certificate = pki.certify_seal_key(_root_key(), public_key, seal.name, current_app.config["ORGANISATION_NAME"],
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
    keyring.forget_seal(seal.id)
    seal.certificate_pem = certificate_pem(certificate)
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
        new_pem, encrypted_key = new_seal_key(seal.name)
        label = None
    else:
        label = f"sealflow-seal-{seal.id}-{secrets.token_hex(4)}"
        new_pem = certificate_pem(_token_key(seal, label))
        encrypted_key = None
    former = _retire_certificate(seal, "renewed")
    keyring.forget_seal(seal.id)
    seal.certificate_pem, seal.encrypted_key = new_pem, encrypted_key
    if label is not None:
        seal.token_key_label = label
    db.session.flush()
    issued = pki.load_certificate(new_pem)
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
    from cryptography.hazmat.primitives import hashes

    certificate = pki.load_certificate(pem)
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
    """A signer for the seal's key, wherever the database says it lives now; a token session stays open only inside
    the block. Only an active seal signs."""
    from app.pdf import make_signer
    from app.pki import open_pkcs11_signer

    row = _signing_row(seal)
    if row.token_key_label is None:
        identity = _identity_of(seal, row)
        key = (keyring.digest(row.encrypted_key, _secret()), row.certificate_pem, identity.chain[0])
        yield keyring.derived("signer", key, lambda: make_signer(identity))
        return
    with open_pkcs11_signer(_token_spec(row.token_key_label), chain=trust_roots(),
                            certificate=_certificate(row.certificate_pem)) as signer:
        yield signer

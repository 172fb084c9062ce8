"""Keys, the TSA and the CRL kept in process memory stay true to the database: a seal revoked, renewed or moved (in
this process or another one, as the web process does while a worker keeps its keys) is never signed with from the
cache, and the CRL lists a revocation as soon as it is committed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.errors import PolicyViolation
from app.extensions import db
from app.models import RevocationReason, Seal, SealKind, SealStatus
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.pki.ca import load_certificate
from app.services import keyring, keys, seals
from config import TestConfig
from tests.conftest import Org

ACTOR = Actor.system("test")


def _change_seal(instance_dir: str, seal_id: int, change: str) -> None:
    """In a process of its own (its own memory, its own session), as the web process revoking or renewing."""
    app = create_app(TestConfig(Path(instance_dir)))
    with app.app_context():
        if change == "revoke":
            seals.set_status(seal_id, SealStatus.REVOKED, ACTOR, RevocationReason.KEY_COMPROMISE)
        else:
            keys.renew_seal_certificate(seal_id, ACTOR)
        db.session.commit()


def _in_another_process(app: Flask, seal_id: int, change: str) -> None:
    db.session.commit()  # nothing of ours holds a lock the other process waits for
    process = multiprocessing.get_context("spawn").Process(
        target=_change_seal, args=(str(app.config["INSTANCE_PATH"]), seal_id, change))
    process.start()
    process.join(120)
    assert process.exitcode == 0


def _serial(pem: str) -> int:
    return load_certificate(pem).serial_number


def test_a_seal_revoked_by_another_process_is_not_signed_with_from_the_cache(app: Flask, org: Org):
    seal_id = org.contract_seal.id
    first = keys.signing_identity(org.contract_seal)
    assert seal_id in keyring.cached_seals()
    assert keys.signing_identity(org.contract_seal).key is first.key  # decrypted once, then kept

    _in_another_process(app, seal_id, "revoke")

    # This session may still hold the seal as it loaded it; the signature reads the database.
    with pytest.raises(PolicyViolation, match="revoked"):
        keys.signing_identity(org.contract_seal)
    assert seal_id not in keyring.cached_seals()


def test_another_seal_signing_drops_the_key_of_a_seal_revoked_elsewhere(app: Flask, org: Org):
    finance = seals.create_seal("Finance Seal", SealKind.FINANCE, SealImageSpec("TEST ORG", "FINANCE"), ACTOR)
    db.session.commit()
    keys.signing_identity(org.contract_seal)
    keys.signing_identity(finance)
    assert {org.contract_seal.id, finance.id} <= keyring.cached_seals().keys()

    _in_another_process(app, org.contract_seal.id, "revoke")

    keys.signing_identity(finance)  # any signature sweeps the keys of seals that changed
    assert org.contract_seal.id not in keyring.cached_seals() and finance.id in keyring.cached_seals()


def test_a_seal_renewed_by_another_process_signs_with_its_new_key(app: Flask, org: Org):
    seal_id = org.contract_seal.id
    old = keys.signing_identity(org.contract_seal)

    _in_another_process(app, seal_id, "renew")

    new = keys.signing_identity(org.contract_seal)
    stored = db.session.execute(db.select(Seal.certificate_pem).where(Seal.id == seal_id)).scalar_one()
    assert new.certificate.serial_number == _serial(stored) != old.certificate.serial_number
    assert new.key.public_key().public_numbers() == new.certificate.public_key().public_numbers()
    assert new.key is not old.key


def test_revoking_or_renewing_in_this_process_drops_the_key_at_once(app: Flask, org: Org):
    keys.signing_identity(org.contract_seal)
    keys.renew_seal_certificate(org.contract_seal.id, ACTOR)
    assert org.contract_seal.id not in keyring.cached_seals()
    db.session.commit()
    keys.signing_identity(org.contract_seal)
    seals.set_status(org.contract_seal.id, SealStatus.SUSPENDED, ACTOR)
    assert org.contract_seal.id not in keyring.cached_seals()
    with pytest.raises(PolicyViolation, match="suspended"):
        keys.signing_identity(org.contract_seal)


def test_the_crl_lists_a_revocation_committed_by_another_process_at_once(app: Flask, org: Org):
    serial = _serial(org.contract_seal.certificate_pem)
    before = keys.revocation_list()
    assert keys.revocation_list() is before  # nothing changed: the signed CRL is kept, not signed again
    assert before.get_revoked_certificate_by_serial_number(serial) is None

    _in_another_process(app, org.contract_seal.id, "revoke")

    after = keys.revocation_list()
    entry = after.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    assert keys.verification_trust().crl.get_revoked_certificate_by_serial_number(serial) is not None


def test_the_crl_lists_a_revocation_of_this_session_before_it_commits(app: Flask, org: Org):
    serial = _serial(org.contract_seal.certificate_pem)
    assert keys.revocation_list().get_revoked_certificate_by_serial_number(serial) is None
    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, ACTOR, RevocationReason.SUPERSEDED)
    db.session.flush()
    assert keys.revocation_list().get_revoked_certificate_by_serial_number(serial) is not None


def test_a_crl_near_its_next_update_is_signed_again(app: Flask, org: Org, monkeypatch: pytest.MonkeyPatch):
    first = keys.revocation_list()
    # Past the refresh point of its validity: as if days had gone by.
    monkeypatch.setattr(keyring, "CRL_REFRESH_SHARE", 1.0)
    again = keys.revocation_list()
    assert again is not first and again.next_update_utc is not None
    assert again.next_update_utc >= first.next_update_utc  # type: ignore[operator]

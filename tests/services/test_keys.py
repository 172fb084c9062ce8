import datetime as dt
import time

import pytest

from app.errors import PolicyViolation
from app.extensions import db
from app.models import CertificateAuthority, RevocationReason, Seal, SealKind, SealStatus
from app.models.audit import Actor, events_for
from app.pdf import SealImageSpec, verify_pdf
from app.pki.ca import load_certificate
from app.services import keyring, keys, seals
from tests.conftest import (
    SOFTHSM_MODULE,
    SOFTHSM_PIN,
    SOFTHSM_TOKEN,
    contract_pdf,
    file_and_approve,
    login,
    work_off_queue,
)
from tests.pdf.verifiers import assert_independently_valid

ACTOR = Actor.system("test")


def test_keys_are_encrypted_in_the_database(app, org):
    for row in [*db.session.query(CertificateAuthority), *db.session.query(Seal)]:
        assert row.encrypted_key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_seal_identity_chains_to_the_root(app, org):
    identity = keys.signing_identity(org.contract_seal)
    identity.certificate.verify_directly_issued_by(identity.chain[0])
    assert keys.ensure_root_ca().id == keys.ensure_root_ca().id  # created once


def test_a_seal_key_moved_into_a_token_seals_the_journey(app, client, org, token_dir, tmp_path):
    """The key is generated in SoftHSM2 and never stored in the database; the worker signs through the token."""
    pin_file = tmp_path / "pin"
    pin_file.write_text(SOFTHSM_PIN + "\n")
    app.config.update(PKCS11_MODULE=SOFTHSM_MODULE, PKCS11_TOKEN=SOFTHSM_TOKEN, PKCS11_PIN_FILE=str(pin_file))
    keys.signing_identity(org.contract_seal)
    assert org.contract_seal.id in keyring.cached_seals()
    result = app.test_cli_runner().invoke(args=["pdf", "token-key", "--seal", org.contract_seal.name])
    assert result.exit_code == 0, result.output
    seal = db.session.get(Seal, org.contract_seal.id)
    assert seal.encrypted_key is None and seal.token_key_label == f"sealflow-seal-{seal.id}"
    assert seal.id not in keyring.cached_seals()  # the software key is gone from memory too
    again = app.test_cli_runner().invoke(args=["pdf", "token-key", "--seal", org.contract_seal.name])
    assert again.exit_code == 1 and "already in the token" in again.output

    application_id = file_and_approve(client, seal.id, contract_pdf())
    work_off_queue(app)
    login(client, "emma")
    sealed = client.get(f"/applications/{application_id}/documents/sealed").data
    report = verify_pdf(sealed, keys.trust_roots(), seal_names=keys.seal_names())
    assert report.verdict == "valid", report.reason
    assert report.signatures[0].certificate_serial == load_certificate(seal.certificate_pem).serial_number
    assert_independently_valid(sealed, keys.root_certificate_pem(), tmp_path / "check")


def test_without_a_configured_token_the_move_is_refused_and_nothing_changes(app, org):
    result = app.test_cli_runner().invoke(args=["pdf", "token-key", "--seal", org.contract_seal.name])
    assert result.exit_code == 1 and "no PKCS#11 token is configured" in result.output
    assert db.session.get(Seal, org.contract_seal.id).encrypted_key is not None


def _sealed_pdf(app, client, seal_id: int) -> bytes:
    application_id = file_and_approve(client, seal_id, contract_pdf())
    work_off_queue(app)
    login(client, "emma")
    return client.get(f"/applications/{application_id}/documents/sealed").data


def test_a_renewed_certificate_signs_from_then_on_and_the_old_one_still_verifies(app, client, org, tmp_path):
    before = _sealed_pdf(app, client, org.contract_seal.id)
    old_pem, old_key = org.contract_seal.certificate_pem, org.contract_seal.encrypted_key
    keys.renew_seal_certificate(org.contract_seal.id, Actor.of(org.seal_admin))
    db.session.commit()
    seal = db.session.get(Seal, org.contract_seal.id)
    old, new = load_certificate(old_pem), load_certificate(seal.certificate_pem)
    assert new.serial_number != old.serial_number and seal.encrypted_key not in (None, old_key)
    new.verify_directly_issued_by(load_certificate(keys.root_certificate_pem()))
    assert [f.certificate_pem for f in seal.former_certificates] == [old_pem]
    assert keys.certificate_serials(seal) == [new.serial_number, old.serial_number]
    assert [(c.serial_number, c.current, c.replaced_because) for c in keys.certificate_history(seal)] == [
        (format(new.serial_number, "X"), True, None), (format(old.serial_number, "X"), False, "renewed")]
    [event] = [e for e in events_for("seal", seal.id) if e.action == "seal.certificate_renewed"]
    assert event.actor_name == "sam" and event.details["previous_serial"] == format(old.serial_number, "X")
    assert event.details["certificate_serial"] == format(new.serial_number, "X") and event.details["key"] == "database"

    after = _sealed_pdf(app, client, seal.id)
    for pdf, certificate, name in ((before, old, "before"), (after, new, "after")):
        report = verify_pdf(pdf, keys.trust_roots(), (keys.revocation_list(),), keys.seal_names())
        assert report.verdict == "valid", report.reason
        assert report.signatures[0].certificate_serial == certificate.serial_number
        assert report.signatures[0].seal_name == "Contract Seal"  # the old certificate still names the seal
        assert_independently_valid(pdf, keys.root_certificate_pem(), tmp_path / name)  # pdfsig and mutool


def test_revoking_a_renewed_seal_lists_every_certificate_it_had_and_renewal_is_refused_then(app, client, org):
    before = _sealed_pdf(app, client, org.contract_seal.id)
    old_serial = load_certificate(org.contract_seal.certificate_pem).serial_number
    keys.renew_seal_certificate(org.contract_seal.id, ACTOR)
    # The CRL keeps whole seconds: revoke in a later second than the signature's time-stamp.
    [signed_at] = [s.trusted_time for s in verify_pdf(before, keys.trust_roots()).signatures]
    time.sleep(max(0.0, (signed_at.replace(microsecond=0) + dt.timedelta(seconds=1.05)
                         - dt.datetime.now(dt.UTC)).total_seconds()))
    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, ACTOR, RevocationReason.KEY_COMPROMISE)
    db.session.commit()
    seal = db.session.get(Seal, org.contract_seal.id)
    crl = keys.revocation_list()
    for serial in (old_serial, load_certificate(seal.certificate_pem).serial_number):
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert entry is not None and entry.revocation_date_utc.replace(tzinfo=None) == seal.revoked_at
    # Signed and time-stamped with the old certificate before the revocation: valid, its seal revoked later.
    report = verify_pdf(before, keys.trust_roots(), (crl,), keys.seal_names())
    assert report.verdict == "valid" and report.signatures[0].revoked_later, report.reason

    pem, events = seal.certificate_pem, len(events_for("seal", seal.id))
    with pytest.raises(PolicyViolation, match="revoked for good"):
        keys.renew_seal_certificate(seal.id, ACTOR)
    db.session.rollback()
    seal = db.session.get(Seal, org.contract_seal.id)
    assert seal.certificate_pem == pem and len(seal.former_certificates) == 1
    assert len(events_for("seal", seal.id)) == events


def test_a_seal_whose_key_is_in_the_token_is_renewed_inside_it(app, client, org, token_dir, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text(SOFTHSM_PIN + "\n")
    app.config.update(PKCS11_MODULE=SOFTHSM_MODULE, PKCS11_TOKEN=SOFTHSM_TOKEN, PKCS11_PIN_FILE=str(pin_file))
    seal = seals.create_seal("Token Seal", SealKind.CONTRACT, SealImageSpec("TEST ORG", "TOKEN"), ACTOR,
                             org.department)
    software_pem = seal.certificate_pem
    keys.move_seal_key_to_token(seal, ACTOR)
    token_pem = seal.certificate_pem
    keys.renew_seal_certificate(seal.id, ACTOR)
    db.session.commit()
    seal = db.session.get(Seal, seal.id)
    assert seal.encrypted_key is None and seal.token_key_label.startswith(f"sealflow-seal-{seal.id}-")
    assert [f.certificate_pem for f in seal.former_certificates] == [token_pem, software_pem]
    assert [f.replaced_because for f in seal.former_certificates] == ["renewed", "moved_to_token"]
    sealed = _sealed_pdf(app, client, seal.id)
    report = verify_pdf(sealed, keys.trust_roots(), seal_names=keys.seal_names())
    assert report.verdict == "valid", report.reason
    assert report.signatures[0].certificate_serial == load_certificate(seal.certificate_pem).serial_number
    assert_independently_valid(sealed, keys.root_certificate_pem(), tmp_path / "check")


def test_the_session_keeps_the_root_ca_it_found(app, org):
    """Found once per session, however often a job asks (its identity map alone would let it go), and read again
    once a commit has expired it, like any object."""
    from sqlalchemy import event

    statements: list[str] = []
    db.session.commit()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        first_id = keys.ensure_root_ca().id
        for _ in range(3):
            assert keys.ensure_root_ca().id == first_id
        assert sum("certificate_authorities" in s for s in statements) == 1
        db.session.commit()
        assert keys.ensure_root_ca().certificate_pem
        assert sum("certificate_authorities" in s for s in statements) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)

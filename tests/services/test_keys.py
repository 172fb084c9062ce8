from app.extensions import db
from app.models import CertificateAuthority, Seal
from app.pdf import verify_pdf
from app.pki.ca import load_certificate
from app.services import keys
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
    result = app.test_cli_runner().invoke(args=["pdf", "token-key", "--seal", org.contract_seal.name])
    assert result.exit_code == 0, result.output
    seal = db.session.get(Seal, org.contract_seal.id)
    assert seal.encrypted_key is None and seal.token_key_label == f"sealflow-seal-{seal.id}"
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

from app.extensions import db
from app.models import CertificateAuthority, Seal
from app.services import keys


def test_keys_are_encrypted_in_the_database(app, org):
    for row in [*db.session.query(CertificateAuthority), *db.session.query(Seal)]:
        assert row.encrypted_key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_seal_identity_chains_to_the_root(app, org):
    identity = keys.signing_identity(org.contract_seal)
    identity.certificate.verify_directly_issued_by(identity.chain[0])
    assert keys.ensure_root_ca().id == keys.ensure_root_ca().id  # created once

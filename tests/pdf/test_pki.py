import pytest
from cryptography.x509.oid import NameOID

from app.pdf import SigningError
from app.pdf.pki import create_root_ca, decrypt_key, encrypt_key, issue_seal_certificate


def test_seal_certificate_is_issued_by_the_root():
    ca = create_root_ca("Org")
    seal = issue_seal_certificate(ca, "Finance Seal", "Org", "ec-p256")
    assert seal.certificate.issuer == ca.certificate.subject
    assert seal.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Finance Seal"
    seal.certificate.verify_directly_issued_by(ca.certificate)


def test_key_is_encrypted_at_rest_and_needs_the_secret():
    ca = create_root_ca("Org", "ec-p256")
    wrapped = encrypt_key(ca.key, "s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in wrapped
    assert decrypt_key(wrapped, "s3cret").private_numbers() == ca.key.private_numbers()
    with pytest.raises(SigningError, match="does not match"):
        decrypt_key(wrapped, "other")

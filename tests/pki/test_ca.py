import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pki import SigningError
from app.pki.ca import (
    RevocationSpec,
    create_crl,
    create_root_ca,
    decrypt_key,
    encrypt_key,
    issue_seal_certificate,
    issue_tsa_certificate,
)


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


def test_tsa_certificate_has_only_the_critical_time_stamping_usage():
    ca = create_root_ca("Org", "ec-p256")
    tsa = issue_tsa_certificate(ca, "Org", "ec-p256")
    usage = tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    tsa.certificate.verify_directly_issued_by(ca.certificate)


def test_seal_certificate_names_the_crl_only_when_asked():
    ca = create_root_ca("Org", "ec-p256")
    plain = issue_seal_certificate(ca, "Seal", "Org", "ec-p256")
    with pytest.raises(x509.ExtensionNotFound):
        plain.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    listed = issue_seal_certificate(ca, "Seal", "Org", "ec-p256", crl_url="http://sealflow.example/ca.crl")
    points = listed.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for name in points[0].full_name] == ["http://sealflow.example/ca.crl"]


def test_crl_is_signed_by_the_ca_and_lists_the_revoked_serial_with_date_and_reason():
    ca = create_root_ca("Org")
    seal, old, plain = (issue_seal_certificate(ca, name, "Org") for name in ("Seal", "Old Seal", "Plain Seal"))
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    crl = create_crl(ca, [RevocationSpec(seal.certificate.serial_number, when, x509.ReasonFlags.key_compromise),
                          RevocationSpec(old.certificate.serial_number, dt.datetime(2025, 2, 1, 8, 0, 0, 900000),
                                         x509.ReasonFlags.cessation_of_operation),
                          RevocationSpec(plain.certificate.serial_number, when, x509.ReasonFlags.unspecified)],
                     next_update_days=3)
    assert crl.is_signature_valid(ca.certificate.public_key())
    assert crl.issuer == ca.certificate.subject
    entry = crl.get_revoked_certificate_by_serial_number(seal.certificate.serial_number)
    assert entry is not None and entry.revocation_date_utc == when
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    # A naive time is UTC; the CRL keeps whole seconds.
    entry = crl.get_revoked_certificate_by_serial_number(old.certificate.serial_number)
    assert entry is not None and entry.revocation_date_utc == dt.datetime(2025, 2, 1, 8, 0, 0, tzinfo=dt.UTC)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.cessation_of_operation
    entry = crl.get_revoked_certificate_by_serial_number(plain.certificate.serial_number)
    assert entry is not None and len(entry.extensions) == 0  # "unspecified" is left out, as RFC 5280 asks
    assert crl.next_update_utc is not None and crl.next_update_utc - crl.last_update_utc > dt.timedelta(days=2)

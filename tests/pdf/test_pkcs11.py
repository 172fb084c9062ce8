"""PKCS#11 seals against a real SoftHSM2 token (Debian package softhsm2; `python manage.py test` installs it)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pikepdf
import pkcs11
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import Signer
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.pdf import (
    SealImageSpec,
    SigningError,
    SignSpec,
    StampSpec,
    placement_rect,
    render_seal_pdf,
    sign_pdf,
    stamp_seal,
)
from app.pdf.pkcs11 import (
    Pkcs11KeySpec,
    generate_key_in_token,
    import_key_to_token,
    open_pkcs11_signer,
    store_certificate_in_token,
)
from app.pdf.pki import CertifiedKey, certify_seal_key, create_root_ca, issue_seal_certificate
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import mutool_unchanged, nss_db_with, pdfsig

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "sealflow-test"
PIN = "1234"


@pytest.fixture(scope="session")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SoftHSM2 token for the whole test session: the module reads SOFTHSM2_CONF at C_Initialize, and
    python-pkcs11 loads it once per process."""
    if shutil.which("softhsm2-util") is None or not Path(MODULE).is_file():
        pytest.fail("SoftHSM2 is missing: install the Debian package softhsm2 (python manage.py test does)")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "5678"],
                   check=True, capture_output=True)
    if pkcs11.lib(MODULE).initialized:
        pkcs11.lib(MODULE).reinitialize()  # loaded earlier in this process: make it read this configuration
    yield directory
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="module")
def ca() -> CertifiedKey:
    return create_root_ca("Test Org")


@dataclass(frozen=True)
class TokenSeal:
    spec: Pkcs11KeySpec
    certificate: x509.Certificate


def _spec(key_label: str, **changes: str) -> Pkcs11KeySpec:
    return replace(Pkcs11KeySpec(MODULE, TOKEN, key_label, PIN), **changes)


@pytest.fixture(scope="module", params=["rsa2048", "ec-p256"])
def token_seal(request: pytest.FixtureRequest, token_dir: Path, ca: CertifiedKey) -> TokenSeal:
    """A seal key generated inside the token, certified by the CA, its certificate stored beside it."""
    spec = _spec(f"generated-{request.param}")
    public_key = generate_key_in_token(spec, request.param)
    certificate = certify_seal_key(ca, public_key, "Contract Seal", "Test Org")
    store_certificate_in_token(spec, certificate)
    return TokenSeal(spec, certificate)


def _seal_and_sign(data: bytes, signer: Signer) -> bytes:
    stamped = stamp_seal(data, render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL")), StampSpec())
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        box = placement_rect(pdf, StampSpec(y_mm=14), height_mm=10)
    return sign_pdf(stamped, signer, SignSpec("Seal1", box.page_index, box.rect, reason="test"))


def _trust(ca: CertifiedKey) -> ValidationContext:
    return ValidationContext(trust_roots=[asn1_x509.Certificate.load(ca.certificate.public_bytes(
        serialization.Encoding.DER))])


def _assert_valid_everywhere(signed: bytes, ca: CertifiedKey, tmp_path: Path) -> None:
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trust(ca))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    unchanged, text = mutool_unchanged(path)
    assert unchanged, text


def test_a_key_generated_in_the_token_signs_a_pdf_every_verifier_accepts(
    tmp_path: Path, ca: CertifiedKey, token_seal: TokenSeal
) -> None:
    with open_pkcs11_signer(token_seal.spec, chain=[ca.certificate]) as signer:
        signed = _seal_and_sign(corpus_pdf("pdflatex-4-pages.pdf"), signer)
    _assert_valid_everywhere(signed, ca, tmp_path)
    embedded = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    assert embedded.signer_cert.dump() == token_seal.certificate.public_bytes(serialization.Encoding.DER)


def test_one_open_signer_signs_many_documents(tmp_path: Path, ca: CertifiedKey, token_seal: TokenSeal) -> None:
    with open_pkcs11_signer(token_seal.spec, chain=[ca.certificate]) as signer:
        first = _seal_and_sign(corpus_pdf("minimal-document.pdf"), signer)
        second = _seal_and_sign(corpus_pdf("pdflatex-4-pages.pdf"), signer)
    _assert_valid_everywhere(first, ca, tmp_path / "first")
    _assert_valid_everywhere(second, ca, tmp_path / "second")


def test_the_private_key_cannot_leave_the_token(token_seal: TokenSeal) -> None:
    token = pkcs11.lib(MODULE).get_token(token_label=TOKEN)
    with token.open(user_pin=PIN) as session:
        key = session.get_key(ObjectClass.PRIVATE_KEY, label=token_seal.spec.key_label)
        assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE]
        assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
        assert key[Attribute.LOCAL]  # generated by the token itself, never imported
        secret = Attribute.PRIVATE_EXPONENT if key.key_type == pkcs11.KeyType.RSA else Attribute.VALUE
        with pytest.raises(pkcs11.AttributeSensitive):
            key[secret]


def test_an_imported_key_signs_and_is_locked_in_the_token(tmp_path: Path, ca: CertifiedKey, token_dir: Path) -> None:
    issued = issue_seal_certificate(ca, "Legacy Seal", "Test Org", "ec-p256")
    spec = _spec("imported-ec")
    import_key_to_token(spec, issued.key, issued.certificate)
    with open_pkcs11_signer(spec, chain=[ca.certificate]) as signer:
        signed = _seal_and_sign(corpus_pdf("minimal-document.pdf"), signer)
    _assert_valid_everywhere(signed, ca, tmp_path)
    with pkcs11.lib(MODULE).get_token(token_label=TOKEN).open(user_pin=PIN) as session:
        key = session.get_key(ObjectClass.PRIVATE_KEY, label="imported-ec")
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]


def test_a_wrong_pin_is_refused_by_name(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match=f"wrong PIN for PKCS#11 token '{TOKEN}'"):
        with open_pkcs11_signer(replace(token_seal.spec, pin="0000")):
            pass


def test_a_pin_provider_is_asked_when_the_session_opens(ca: CertifiedKey, token_seal: TokenSeal) -> None:
    asked: list[bool] = []

    def pin() -> str:
        asked.append(True)
        return PIN

    with open_pkcs11_signer(replace(token_seal.spec, pin=pin), chain=[ca.certificate]):
        assert asked == [True]
    assert PIN not in repr(token_seal.spec)


def test_an_unknown_key_label_is_refused_by_name(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match=f"no private key labelled 'no-such-seal' on PKCS#11 token '{TOKEN}'"):
        with open_pkcs11_signer(replace(token_seal.spec, key_label="no-such-seal")):
            pass


def test_an_unknown_certificate_label_is_refused_by_name(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match="no certificate labelled 'missing-cert'"):
        with open_pkcs11_signer(replace(token_seal.spec, cert_label="missing-cert")):
            pass


def test_an_unknown_token_lists_the_tokens_there_are(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match=f"no PKCS#11 token labelled 'elsewhere'.*'{TOKEN}'"):
        with open_pkcs11_signer(replace(token_seal.spec, token_label="elsewhere")):
            pass


def test_a_missing_module_names_the_package(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match="/nowhere/libpkcs11.so does not exist.*softhsm2"):
        with open_pkcs11_signer(replace(token_seal.spec, module_path="/nowhere/libpkcs11.so")):
            pass


def test_a_certificate_for_another_key_is_refused(ca: CertifiedKey, token_seal: TokenSeal) -> None:
    other = issue_seal_certificate(ca, "Other Seal", "Test Org", "rsa2048").certificate
    with pytest.raises(SigningError, match="does not belong to the key"):
        with open_pkcs11_signer(token_seal.spec, chain=[ca.certificate], certificate=other):
            pass
    with pytest.raises(SigningError, match="does not belong to the key"):
        store_certificate_in_token(replace(token_seal.spec, cert_label="other"), other)


def test_a_second_key_with_the_same_label_is_refused(token_seal: TokenSeal) -> None:
    with pytest.raises(SigningError, match="already holds a key labelled"):
        generate_key_in_token(token_seal.spec, "ec-p256")


def test_a_failure_inside_the_block_closes_the_session(ca: CertifiedKey, token_seal: TokenSeal) -> None:
    with pytest.raises(RuntimeError):
        with open_pkcs11_signer(token_seal.spec, chain=[ca.certificate]):
            raise RuntimeError("boom")
    # Had the session stayed open (and logged in), this login would fail with UserAlreadyLoggedIn.
    with open_pkcs11_signer(token_seal.spec, chain=[ca.certificate]):
        pass

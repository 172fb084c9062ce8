import io
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from asn1crypto import algos, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.pdf import SigningIdentity, SignSpec, make_signer, sign_pdf
from app.pki.ca import issue_seal_certificate
from app.pki.errors import TimeStampError
from app.pki.tsa import SEALFLOW_TSA_POLICY_OID, TimeStampAuthority, external_timestamper
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import nss_db_with, pdfsig


def _openssl(*args: str, cwd: Path) -> str:
    result = subprocess.run(["openssl", "ts", *args], cwd=cwd, capture_output=True, text=True)
    return result.stdout + result.stderr


def _query(tmp_path: Path, *options: str) -> bytes:
    (tmp_path / "data.txt").write_bytes(b"the contract text")
    _openssl("-query", "-data", "data.txt", "-sha256", *options, "-out", "req.tsq", cwd=tmp_path)
    return (tmp_path / "req.tsq").read_bytes()


def _write_pems(tmp_path: Path, ca, authority: TimeStampAuthority) -> None:
    (tmp_path / "root.pem").write_text(ca.certificate_pem)
    (tmp_path / "tsa.pem").write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_openssl_verifies_the_response(tmp_path: Path, ca, authority: TimeStampAuthority):
    (tmp_path / "resp.der").write_bytes(authority.respond(_query(tmp_path, "-cert")))
    _write_pems(tmp_path, ca, authority)
    text = _openssl("-verify", "-data", "data.txt", "-in", "resp.der", "-CAfile", "root.pem",
                    "-untrusted", "tsa.pem", cwd=tmp_path)
    assert "Verification: OK" in text, text
    reply = _openssl("-reply", "-in", "resp.der", "-text", cwd=tmp_path)
    assert "Status: Granted." in reply and f"Policy OID: {SEALFLOW_TSA_POLICY_OID}" in reply, reply


def test_granted_token_echoes_the_request(tmp_path: Path, authority: TimeStampAuthority):
    request = tsp.TimeStampReq.load(_query(tmp_path, "-cert"))
    response = tsp.TimeStampResp.load(authority.respond(request.dump()))
    signed_data = response["time_stamp_token"]["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert response["status"]["status"].native == "granted"
    assert info["nonce"].native == request["nonce"].native
    assert info["message_imprint"].dump() == request["message_imprint"].dump()
    assert info["policy"].dotted == SEALFLOW_TSA_POLICY_OID
    assert info["gen_time"].native.tzinfo is not None
    attributes = {a["type"].native for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert "signing_certificate_v2" in attributes
    certificates = [c.chosen.dump() for c in signed_data["certificates"]]
    assert authority.certificate.public_bytes(serialization.Encoding.DER) in certificates


def test_no_certificates_unless_asked_and_openssl_still_verifies(tmp_path: Path, ca, authority):
    response_der = authority.respond(_query(tmp_path))
    response = tsp.TimeStampResp.load(response_der)
    assert response["time_stamp_token"]["content"]["certificates"].native is None
    (tmp_path / "resp.der").write_bytes(response_der)
    _write_pems(tmp_path, ca, authority)
    text = _openssl("-verify", "-data", "data.txt", "-in", "resp.der", "-CAfile", "root.pem",
                    "-untrusted", "tsa.pem", cwd=tmp_path)
    assert "Verification: OK" in text, text


def test_serial_numbers_are_unique(tmp_path: Path, authority: TimeStampAuthority):
    request = _query(tmp_path)
    serials = {
        tsp.TimeStampResp.load(authority.respond(request))["time_stamp_token"]["content"]["encap_content_info"][
            "content"
        ].parsed["serial_number"].native
        for _ in range(20)
    }
    assert len(serials) == 20


def _request(algorithm: str, digest: bytes, **extra) -> bytes:
    imprint = tsp.MessageImprint({"hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                                  "hashed_message": digest})
    return tsp.TimeStampReq({"version": "v1", "message_imprint": imprint, **extra}).dump()


@pytest.mark.parametrize(
    ("request_der", "fail_info", "openssl_text"),
    [
        (b"not a request", "bad_data_format", "the data submitted has the wrong format"),
        (_request("sha1", b"\x00" * 20), "bad_alg", "unrecognized or unsupported algorithm identifier"),
        (_request("sha256", b"\x00" * 20), "bad_data_format", "the data submitted has the wrong format"),
        (_request("sha256", b"\x00" * 32, req_policy="1.2.3.4"), "unaccepted_policy",
         "the requested TSA policy is not supported"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(tmp_path: Path, authority, request_der, fail_info, openssl_text):
    response_der = authority.respond(request_der)
    (tmp_path / "resp.der").write_bytes(response_der)
    reply = _openssl("-reply", "-in", "resp.der", "-text", cwd=tmp_path)
    assert "Status: Rejected." in reply and openssl_text in reply, reply
    # asn1crypto's TimeStampResp insists on a token, so read the status alone.
    status = tsp.PKIStatusInfo.load(core.Sequence.load(response_der)[0].dump())
    assert status["fail_info"].native == {fail_info}


def test_a_seal_certificate_cannot_run_a_tsa(ca, algorithm):
    with pytest.raises(TimeStampError, match="timeStamping"):
        TimeStampAuthority(issue_seal_certificate(ca, "Seal", "Test Org", algorithm))


def _trust(ca) -> ValidationContext:
    return ValidationContext(trust_roots=[asn1_x509.Certificate.load(ca.certificate.public_bytes(
        serialization.Encoding.DER))])


def _sign(ca, algorithm: str, timestamper) -> bytes:
    seal = issue_seal_certificate(ca, "Contract Seal", "Test Org", algorithm)
    signer = make_signer(SigningIdentity(seal.key, seal.certificate, (ca.certificate,)))
    spec = SignSpec("Seal1", 0, (50, 50, 250, 100), reason="test")
    return sign_pdf(corpus_pdf("minimal-document.pdf"), signer, spec, timestamper=timestamper)


def test_signature_with_the_builtin_tsa_is_pades_b_t(tmp_path: Path, ca, algorithm, authority):
    signed = _sign(ca, algorithm, authority.timestamper())
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trust(ca))
    assert status.bottom_line
    timestamp = status.timestamp_validity
    assert timestamp is not None and timestamp.intact and timestamp.valid and timestamp.trusted
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    # poppler 22 does not print signature timestamps; it must still accept the signature carrying one.
    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text


@pytest.fixture()
def tsa_url(authority: TimeStampAuthority) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server expects
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answer = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()


def test_external_tsa_over_http(ca, algorithm, tsa_url: str):
    signed = _sign(ca, algorithm, external_timestamper(tsa_url, timeout=10))
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trust(ca))
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_external_tsa_needs_an_http_url():
    with pytest.raises(TimeStampError, match="http"):
        external_timestamper("ftp://tsa.example", timeout=5)

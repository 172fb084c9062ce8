"""SealFlow's own RFC 3161 time-stamp authority, and the pyHanko timestampers that signing uses.

`TimeStampAuthority.respond` takes a DER TimeStampReq and returns a DER TimeStampResp, so an HTTP endpoint
(Content-Type application/timestamp-query in, application/timestamp-reply out) only has to pass bytes through.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from app.pki.ca import CertifiedKey
from app.pki.errors import TimeStampError
from app.pki.trust import asn1_certificate

__all__ = [
    "SEALFLOW_TSA_POLICY_OID",
    "LocalTimeStamper",
    "TimeStampAuthority",
    "external_timestamper",
    "time_stamp_token",
]

logger = logging.getLogger(__name__)

# The TSA policy under which SealFlow issues time-stamps. An OID in the 2.25 arc (ITU-T X.667, derived from a
# UUID) needs no registration and cannot clash with anyone else's.
SEALFLOW_TSA_POLICY_OID = "2.25.291300222416341130207246680297410816057"

# Imprint algorithms accepted in requests, with their digest sizes; SHA-1 and MD5 are refused as badAlg.
_IMPRINT_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_384": 48, "sha3_512": 64}

# The time the TSA vouches for, in either direction (TSTInfo.accuracy).
_ACCURACY_SECONDS = 1


class _Rejected(Exception):
    """A request the TSA answers with status rejection."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


def _check_tsa_certificate(tsa: CertifiedKey) -> None:
    try:
        usage = tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimeStampError("the TSA certificate has no extended key usage; it needs timeStamping") from exc
    if list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not usage.critical:
        raise TimeStampError("the TSA certificate must carry timeStamping as its only, critical, extended key usage")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if tsa.key.public_key().public_bytes(serialization.Encoding.DER, public) != tsa.certificate.public_key(
    ).public_bytes(serialization.Encoding.DER, public):
        raise TimeStampError("the TSA key does not belong to the TSA certificate")


def _parse_request(request_der: bytes) -> tsp.TimeStampReq:
    """Load and check a TimeStampReq; anything SealFlow will not stamp raises _Rejected."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        _ = request.native  # asn1crypto parses lazily: force the whole structure now
        version = request["version"].native
        algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        imprint = request["message_imprint"]["hashed_message"].native
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _Rejected("bad_data_format", f"the request is not a DER TimeStampReq: {exc}") from exc
    if version != "v1":
        raise _Rejected("bad_request", f"unsupported request version {version}")
    if algorithm not in _IMPRINT_SIZES:
        raise _Rejected("bad_alg", f"unsupported message imprint algorithm {algorithm}")
    if len(imprint) != _IMPRINT_SIZES[algorithm]:
        raise _Rejected("bad_data_format", f"a {algorithm} imprint has {_IMPRINT_SIZES[algorithm]} bytes")
    policy = request["req_policy"].dotted if request["req_policy"].native is not None else None
    if policy is not None and policy != SEALFLOW_TSA_POLICY_OID:
        raise _Rejected("unaccepted_policy", f"this TSA only stamps under policy {SEALFLOW_TSA_POLICY_OID}")
    if request["extensions"].native:
        raise _Rejected("unaccepted_extensions", "this TSA supports no request extensions")
    return request


class _TimeStampResp(tsp.TimeStampResp):
    """TimeStampResp as RFC 3161 defines it: asn1crypto forgets that timeStampToken is OPTIONAL (absent when
    the request is rejected)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _rejection(fail_info: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({fail_info})}
    )
    return bytes(_TimeStampResp({"status": status}).dump())


def _serial_number() -> int:
    # 64 random bits make a repeat negligible without a shared counter between processes.
    return secrets.randbits(64) or 1


class TimeStampAuthority:
    """An RFC 3161 TSA signing with its own key (RSA PKCS#1 v1.5 or ECDSA, SHA-256).

    :param tsa: the TSA's key and certificate (see `pki.issue_tsa_certificate`).
    :param chain: certificates up to the root, sent along when a request asks for certificates.
    """

    def __init__(self, tsa: CertifiedKey, chain: Sequence[x509.Certificate] = ()) -> None:
        _check_tsa_certificate(tsa)
        self._key = tsa.key
        self._cert = asn1_certificate(tsa.certificate)
        self._chain = [asn1_certificate(c) for c in chain if c != tsa.certificate]
        self._ess = simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(self._cert))
        self.certificate = tsa.certificate
        self.chain = tuple(chain)

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp: granted with a token, or rejected with a
        failInfo. Bad requests never raise."""
        try:
            request = _parse_request(request_der)
        except _Rejected as rejected:
            return _rejection(rejected.fail_info, rejected.text)
        try:
            token = self._token(request, dt.datetime.now(dt.UTC))
        except (ValueError, TypeError) as exc:  # a key the TSA cannot sign with: report, do not crash the endpoint
            logger.exception("time-stamp signing failed")
            return _rejection("system_failure", f"the TSA could not sign: {exc}")
        status = tsp.PKIStatusInfo({"status": "granted"})
        return bytes(tsp.TimeStampResp({"status": status, "time_stamp_token": token}).dump())

    def timestamper(self) -> LocalTimeStamper:
        """A pyHanko TimeStamper that asks this TSA in-process."""
        return LocalTimeStamper(self)

    def _tst_info(self, request: tsp.TimeStampReq, now: dt.datetime) -> bytes:
        info: dict[str, Any] = {
            "version": "v1",
            "policy": SEALFLOW_TSA_POLICY_OID,
            "message_imprint": request["message_imprint"],
            "serial_number": _serial_number(),
            "gen_time": now,
            "accuracy": {"seconds": _ACCURACY_SECONDS},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._cert.subject),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        return bytes(tsp.TSTInfo(info).dump())

    def _token(self, request: tsp.TimeStampReq, now: dt.datetime) -> cms.ContentInfo:
        tst_info = self._tst_info(request, now)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(now)})),
                simple_cms_attribute("message_digest", hashlib.sha256(tst_info).digest()),
                self._ess,
            ]
        )
        signature, mechanism = self._sign(signed_attrs.dump())
        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": self._cert.issuer, "serial_number": self._cert.serial_number},
                ),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": mechanism}),
                "signature": signature,
            }
        )
        signed_data: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = [self._cert, *self._chain]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})

    def _sign(self, data: bytes) -> tuple[bytes, str]:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256()), "sha256_rsa"
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"
        raise TypeError(f"unsupported TSA key type {type(self._key).__name__}")


class LocalTimeStamper(TimeStamper):
    """pyHanko's timestamp client for SealFlow's own TSA, without HTTP: the request and the response still
    travel as DER, exactly as they would over the wire."""

    def __init__(self, authority: TimeStampAuthority) -> None:
        super().__init__(include_nonce=True)
        self._authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return _TimeStampResp.load(self._authority.respond(req.dump()))


def external_timestamper(url: str, timeout: float = 10.0) -> TimeStamper:
    """pyHanko's HTTP timestamp client for an external RFC 3161 TSA configured by URL.

    :param url: the TSA's endpoint (http or https).
    :param timeout: seconds to wait for the TSA's answer.
    """
    if not url.startswith(("http://", "https://")):
        raise TimeStampError(f"the time-stamp authority URL must be http(s): {url!r}")
    return HTTPTimeStamper(url, timeout=timeout)


def time_stamp_token(timestamper: TimeStamper, digest: bytes) -> bytes:
    """A DER RFC 3161 token over a SHA-256 digest, from SealFlow's own TSA or an external one (pyHanko checks the
    answer: status, nonce, imprint). Raises TimeStampError when the TSA cannot be reached or refuses."""
    try:
        token = asyncio.run(timestamper.async_timestamp(digest, "sha256"))
    except Exception as exc:  # pyHanko raises its own and the transport's errors alike
        raise TimeStampError(f"the time-stamp authority gave no token: {exc}") from exc
    return bytes(token.dump())

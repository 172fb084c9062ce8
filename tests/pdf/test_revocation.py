"""Revocation in verify_pdf: a signature a trusted time-stamp places before the revocation stays valid, one after it
(or with no trusted time at all) is revoked. Every verdict is checked against pyHanko's own validators too: its
point-in-time validation with the same CRL, and its ETSI EN 319 102-1 validation with time, which finds the best
signature time by itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from dataclasses import dataclass

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.ades import ades_with_time_validation
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer

from app.pdf import Revocation, SigningIdentity, SignSpec, make_signer, sign_pdf, verify_pdf
from app.pki import CertifiedKey, RevocationSpec, TimeStampAuthority, asn1_certificate
from app.pki.ca import create_crl, create_root_ca, issue_seal_certificate, issue_tsa_certificate
from tests.conftest import corpus_pdf

CRL_URL = "http://sealflow.example/ca.crl"
REASONS = [x509.ReasonFlags.key_compromise, x509.ReasonFlags.superseded, x509.ReasonFlags.cessation_of_operation]


@dataclass(frozen=True)
class Signed:
    data: bytes
    at: dt.datetime  # the signature time-stamp's time, or when signing ended (B-B)


def _sign(ca: CertifiedKey, seal: CertifiedKey, authority: TimeStampAuthority | None) -> Signed:
    signer = make_signer(SigningIdentity(seal.key, seal.certificate, (ca.certificate,)))
    data = sign_pdf(corpus_pdf("minimal-document.pdf"), signer, SignSpec("Seal1", 0, (50, 50, 250, 100)),
                    timestamper=authority.timestamper() if authority else None)
    stamped = verify_pdf(data, [ca.certificate]).signatures[0].timestamp_time
    return Signed(data, stamped or dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def seal(ca, algorithm) -> CertifiedKey:
    return issue_seal_certificate(ca, "Contract Seal", "Test Org", algorithm, crl_url=CRL_URL)


@pytest.fixture(scope="module")
def signed(ca, seal, authority) -> Signed:
    """PAdES B-T: the signature carries a time-stamp token of the trusted authority."""
    return _sign(ca, seal, authority)


def _wait_past(moment: dt.datetime) -> None:
    """A CRL is issued after the revocation it lists, as in life."""
    time.sleep(max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds() + 0.05))


def _later_than(moment: dt.datetime) -> dt.datetime:
    """The next whole second (CRLs keep whole seconds), once it has passed."""
    later = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    _wait_past(later)
    return later


def _crl(ca: CertifiedKey, seal: CertifiedKey, when: dt.datetime,
         reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise) -> x509.CertificateRevocationList:
    return create_crl(ca, [RevocationSpec(seal.certificate.serial_number, when, reason)])


def _pyhanko_at(data: bytes, ca: CertifiedKey, crl: x509.CertificateRevocationList,
                moment: dt.datetime | None) -> PdfSignatureStatus:
    """pyHanko's validator with the CRL, as of `moment` (None: now); a CRL issued later still speaks for then."""
    context = ValidationContext(trust_roots=[asn1_certificate(ca.certificate)],
                                crls=[crl.public_bytes(serialization.Encoding.DER)], allow_fetching=False,
                                revocation_mode="hard-fail", moment=moment, retroactive_revinfo=moment is not None)
    return validate_pdf_signature(PdfFileReader(io.BytesIO(data)).embedded_signatures[0], context)


def _etsi_passes(data: bytes, ca: CertifiedKey, crl: x509.CertificateRevocationList) -> bool:
    """pyHanko's ETSI EN 319 102-1 validation with time (section 5.5): it takes the signature time-stamp as the
    best signature time and accepts a revocation after it."""
    embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build([asn1_certificate(ca.certificate)]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
        local_knowledge=LocalKnowledge(known_crls=[CRLContainer(asn1_crl.CertificateList.load(
            crl.public_bytes(serialization.Encoding.DER)))]),
    )
    result = asyncio.run(ades_with_time_validation(embedded.signed_data, spec, timing_info=ValidationTimingInfo.now(),
                                                   raw_digest=embedded.compute_digest()))
    return result.ades_subindic.status == AdESStatus.PASSED


@pytest.mark.parametrize("reason", REASONS, ids=lambda reason: reason.value)
def test_a_signature_timestamped_before_the_revocation_stays_valid(ca, seal, signed: Signed, reason):
    # keyCompromise too: judged by the date the compromise was declared, like the other reasons.
    revoked_at = _later_than(signed.at)
    crl = _crl(ca, seal, revoked_at, reason)
    report = verify_pdf(signed.data, [ca.certificate], [crl], {seal.certificate.serial_number: "合同专用章"})
    assert report.verdict == "valid", report.reason
    (signature,) = report.signatures
    assert signature.revoked_later and not signature.revoked and signature.trusted
    assert signature.revocation == Revocation(revoked_at, reason)
    assert signature.trusted_time == signature.timestamp_time == signed.at
    words = {"keyCompromise": "key compromise", "superseded": "superseded", "cessationOfOperation": "cessation of "
             "operation"}[reason.value]
    assert signature.reason.startswith(f"seal revoked later, on {revoked_at:%Y-%m-%d %H:%M:%S} UTC ({words})")
    assert "Seal1 made before the seal was revoked" in report.reason
    # pyHanko agrees: valid as of the time-stamp, revoked as of now, and passed by the ETSI algorithm.
    assert _pyhanko_at(signed.data, ca, crl, signed.at).bottom_line
    now = _pyhanko_at(signed.data, ca, crl, None)
    assert now.revoked and not now.bottom_line
    assert _etsi_passes(signed.data, ca, crl)


def test_a_signature_timestamped_after_the_revocation_is_revoked(ca, seal, signed: Signed):
    revoked_at = (signed.at - dt.timedelta(hours=1)).replace(microsecond=0)
    crl = _crl(ca, seal, revoked_at, x509.ReasonFlags.superseded)
    report = verify_pdf(signed.data, [ca.certificate], [crl])
    assert report.verdict == "revoked", report.reason
    (signature,) = report.signatures
    assert signature.revoked and not signature.revoked_later and not signature.trusted
    assert signature.revocation == Revocation(revoked_at, x509.ReasonFlags.superseded)
    assert signature.trusted_time == signed.at
    assert f"the seal 'Contract Seal' was revoked on {revoked_at:%Y-%m-%d %H:%M:%S} UTC (superseded), before the " \
           f"signature's trusted time-stamp of {signed.at:%Y-%m-%d %H:%M:%S} UTC" in signature.reason
    status = _pyhanko_at(signed.data, ca, crl, signed.at)
    assert status.revoked and not status.bottom_line
    assert not _etsi_passes(signed.data, ca, crl)


def test_a_revocation_in_the_same_second_as_the_timestamp_is_not_after_it(ca, seal, signed: Signed):
    crl = _crl(ca, seal, signed.at.replace(microsecond=0))
    assert verify_pdf(signed.data, [ca.certificate], [crl]).verdict == "revoked"


def test_without_a_timestamp_nothing_proves_the_signature_came_first(ca, seal):
    plain = _sign(ca, seal, None)  # PAdES B-B
    crl = _crl(ca, seal, _later_than(plain.at), x509.ReasonFlags.cessation_of_operation)
    report = verify_pdf(plain.data, [ca.certificate], [crl])
    assert report.verdict == "revoked", report.reason
    (signature,) = report.signatures
    assert signature.revoked and signature.trusted_time is None and signature.timestamp_time is None
    assert "(cessation of operation), and no trusted time-stamp proves the signature was made before that" \
        in signature.reason
    assert _pyhanko_at(plain.data, ca, crl, None).revoked
    assert not _etsi_passes(plain.data, ca, crl)


def test_a_timestamp_from_an_untrusted_authority_proves_nothing(ca, seal, algorithm):
    stranger = create_root_ca("Someone Else", algorithm)
    foreign = TimeStampAuthority(issue_tsa_certificate(stranger, "Someone Else", algorithm), (stranger.certificate,))
    stamped = _sign(ca, seal, foreign)
    crl = _crl(ca, seal, _later_than(stamped.at))
    report = verify_pdf(stamped.data, [ca.certificate], [crl])
    (signature,) = report.signatures
    assert report.verdict == "revoked" and signature.trusted_time is None, report.reason
    assert signature.timestamp_time == stamped.at and not signature.timestamp_trusted
    assert not _etsi_passes(stamped.data, ca, crl)


def _document_timestamp(data: bytes, authority: TimeStampAuthority) -> bytes:
    out = io.BytesIO()
    signers.PdfTimeStamper(authority.timestamper()).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                                                                  "sha256", output=out)
    return out.getvalue()


def test_a_later_document_timestamp_proves_the_signature_came_before_the_revocation(ca, seal, authority):
    archived = _document_timestamp(_sign(ca, seal, None).data, authority)  # B-B, then a document time-stamp
    stamped_at = verify_pdf(archived, [ca.certificate]).signatures[1].timestamp_time
    assert stamped_at is not None

    crl = _crl(ca, seal, _later_than(stamped_at))
    report = verify_pdf(archived, [ca.certificate], [crl])
    assert report.verdict == "valid", report.reason
    signature, stamp = report.signatures
    assert signature.revoked_later and signature.trusted_time == stamped_at and signature.timestamp_time is None
    assert stamp.kind == "document-timestamp" and stamp.verdict == "valid" and stamp.revocation is None
    assert _pyhanko_at(archived, ca, crl, stamped_at).bottom_line

    crl = _crl(ca, seal, stamped_at.replace(microsecond=0))
    report = verify_pdf(archived, [ca.certificate], [crl])
    assert report.verdict == "revoked" and report.signatures[0].revoked, report.reason
    assert report.signatures[1].verdict == "valid"  # the time-stamp itself is fine
    assert not _pyhanko_at(archived, ca, crl, stamped_at).bottom_line


def test_a_crl_that_does_not_list_the_seal_keeps_it_valid(ca, signed: Signed):
    other = issue_seal_certificate(ca, "Other Seal", "Test Org", "ec-p256")
    crl = create_crl(ca, [RevocationSpec(other.certificate.serial_number, dt.datetime.now(dt.UTC))])
    report = verify_pdf(signed.data, [ca.certificate], [crl])
    assert report.verdict == "valid" and report.signatures[0].revocation is None


def test_a_certificate_without_a_distribution_point_is_judged_the_same(ca, authority, algorithm):
    # pyHanko's hard-fail mode never looks it up in a CRL: verify_pdf reads the CRL itself.
    quiet = issue_seal_certificate(ca, "Old Seal", "Test Org", algorithm)
    stamped = _sign(ca, quiet, authority)
    before = _crl(ca, quiet, stamped.at - dt.timedelta(days=1), None)
    report = verify_pdf(stamped.data, [ca.certificate], [before])
    assert report.verdict == "revoked" and "(reason not given)" in report.reason, report.reason
    assert report.signatures[0].revocation == Revocation((stamped.at - dt.timedelta(days=1)).replace(microsecond=0),
                                                         x509.ReasonFlags.unspecified)
    later = _crl(ca, quiet, _later_than(stamped.at))
    assert verify_pdf(stamped.data, [ca.certificate], [later]).signatures[0].revoked_later
    # A CRL not signed by a trusted root proves nothing.
    impostor = create_root_ca("Test Org", algorithm)
    forged = _crl(impostor, quiet, stamped.at - dt.timedelta(days=1))
    report = verify_pdf(stamped.data, [ca.certificate], [forged])
    assert report.verdict == "valid" and report.signatures[0].revocation is None

"""PAdES signatures with pyHanko, as an incremental update after stamping."""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from app.pdf.errors import InvalidPdfError, SigningError
from app.pdf.pki import PrivateKey

__all__ = ["SignSpec", "SigningIdentity", "make_signer", "sign_pdf"]


@dataclass(frozen=True)
class SigningIdentity:
    """A seal's key, its certificate and the chain up to the organisation root."""

    key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class SignSpec:
    """A visible signature field: page index, box in user space (x1, y1, x2, y2), and its texts."""

    field_name: str
    page_index: int
    box: tuple[float, float, float, float]
    reason: str = ""
    location: str = ""


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class LoadedKeySigner(signers.Signer):
    """A signer holding a parsed `cryptography` key. pyHanko's SimpleSigner re-parses its key from DER on
    every signature (about 40 ms for RSA-2048); a seal signs many documents with one key."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._key = identity.key
        super().__init__(
            signing_cert=_asn1_cert(identity.certificate),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in identity.chain]),
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey) and mechanism == "rsassa_pkcs1v15":
            return self._key.sign(data, padding.PKCS1v15(), hash_algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey) and mechanism == "ecdsa":
            return self._key.sign(data, ec.ECDSA(hash_algorithm))
        raise SigningError(f"the signature mechanism {mechanism} does not fit the seal's key")


def make_signer(identity: SigningIdentity) -> signers.Signer:
    """Build the signer once; reuse it for many signatures with the same key."""
    return LoadedKeySigner(identity)


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return int(x1), int(y1), int(x2), int(y2)


def sign_pdf(
    data: bytes, signer: signers.Signer, spec: SignSpec, timestamper: timestamps.TimeStamper | None = None
) -> bytes:
    """Add a visible PAdES signature (ETSI.CAdES.detached, SHA-256) in an incremental update;
    with a timestamper the signature carries an RFC 3161 timestamp (PAdES B-T)."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(spec.field_name, on_page=spec.page_index, box=_int_box(spec.box)),
        )
        meta = signers.PdfSignatureMetadata(
            field_name=spec.field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=spec.reason or None,
            location=spec.location or None,
        )
        style = TextStampStyle(
            stamp_text="%(signer)s\n%(ts)s", border_width=0, timestamp_format="%Y-%m-%d %H:%M:%S UTC"
        )
        pdf_signer = signers.PdfSigner(meta, signer=signer, stamp_style=style, timestamper=timestamper)
        out = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=out)
        return out.getvalue()
    except PyHankoPdfError as exc:
        raise InvalidPdfError(f"the PDF cannot be signed: {exc}") from exc
    except PyHankoSigningError as exc:
        raise SigningError(f"signing failed: {exc}") from exc

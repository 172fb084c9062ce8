"""PAdES signatures with pyHanko, as an incremental update after stamping."""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
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


def make_signer(identity: SigningIdentity) -> signers.Signer:
    """Build the pyHanko signer once; reuse it for many signatures with the same key."""
    key_der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=_asn1_cert(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in identity.chain]),
    )


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return int(x1), int(y1), int(x2), int(y2)


def sign_pdf(data: bytes, signer: signers.Signer, spec: SignSpec) -> bytes:
    """Add a visible PAdES signature (ETSI.CAdES.detached, SHA-256) in an incremental update."""
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
        pdf_signer = signers.PdfSigner(meta, signer=signer, stamp_style=style)
        out = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=out)
        return out.getvalue()
    except PyHankoPdfError as exc:
        raise InvalidPdfError(f"the PDF cannot be signed: {exc}") from exc
    except PyHankoSigningError as exc:
        raise SigningError(f"signing failed: {exc}") from exc

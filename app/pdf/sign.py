"""PAdES signatures with pyHanko, as an incremental update after stamping."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import FormFillingError
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from app.pdf.appearance import SealStampStyle
from app.pdf.errors import InvalidPdfError, SignatureFieldError, library_message
from app.pdf.revisions import MAX_TREE_DEPTH, check_update, prepare_update, quiet_diff_analysis
from app.pki.ca import PrivateKey
from app.pki.errors import SigningError, TimeStampError
from app.pki.trust import asn1_certificate, validation_context

__all__ = [
    "LongTermSpec",
    "SignSpec",
    "SignatureField",
    "SigningIdentity",
    "add_signature_fields",
    "make_signer",
    "sign_pdf",
]


@dataclass(frozen=True)
class SigningIdentity:
    """A seal's key, its certificate and the chain up to the organisation root."""

    key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class SignSpec:
    """A visible signature: the field (created here unless `add_signature_fields` made it already), its page
    index and box in user space (x1, y1, x2, y2), and what it shows and says.

    `appearance_pdf`: the seal image shown in the field, with the signer and time beneath; empty: text only.
    `certify`: make this the certification (DocMDP) signature; later signatures stay allowed (form filling), in the
    empty signature fields the document has when it is certified (see `add_signature_fields`).
    """

    field_name: str
    page_index: int = 0
    box: tuple[float, float, float, float] = (0, 0, 0, 0)
    reason: str = ""
    location: str = ""
    appearance_pdf: bytes = b""
    certify: bool = False


@dataclass(frozen=True)
class LongTermSpec:
    """PAdES B-LT: the certificates and CRLs a verifier needs are embedded (DSS), so the signature can be
    checked after they expire; `archive` adds a document timestamp over everything (B-LTA)."""

    trust_roots: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    archive: bool = False


@dataclass(frozen=True)
class SignatureField:
    """An empty signature field to create before anyone signs (several parties on one document)."""

    name: str
    page_index: int
    box: tuple[float, float, float, float]


class LoadedKeySigner(signers.Signer):
    """A signer holding a parsed `cryptography` key. pyHanko's SimpleSigner re-parses its key from DER on
    every signature (about 40 ms for RSA-2048); a seal signs many documents with one key."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._key = identity.key
        super().__init__(
            signing_cert=asn1_certificate(identity.certificate),
            cert_registry=SimpleCertificateStore.from_certs([asn1_certificate(c) for c in identity.chain]),
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


# What pyHanko raises besides its own error classes when a PDF's objects are not what it expects.
LIBRARY_ERRORS = (PyHankoPdfError, FormFillingError, ValueError, KeyError, TypeError, IndexError, AttributeError)


def add_signature_fields(data: bytes, wanted: tuple[SignatureField, ...]) -> bytes:
    """Create every party's empty field in one incremental update, so that each later signature only fills
    its own field and no earlier signature sees a new field appear.

    :raises AlreadySignedError: the document is signed already and its signatures forbid new fields.
    :raises InvalidPdfError: the PDF cannot take the fields (damaged, or a field of that name exists).
    """
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        revisions = writer.prev.xrefs.total_revisions
        signed_before = prepare_update(writer, None, new_field=True)
        for field in wanted:
            fields.append_signature_field(
                writer, fields.SigFieldSpec(field.name, on_page=field.page_index, box=_int_box(field.box))
            )
        out = io.BytesIO()
        writer.write(out)
        if signed_before:
            check_update(out.getvalue(), revisions)
        return out.getvalue()
    except LIBRARY_ERRORS as exc:
        raise InvalidPdfError(f"the signature fields cannot be added: {library_message(exc)}") from exc


def _existing_widget(writer: IncrementalPdfFileWriter, name: str) -> Any | None:
    """The widget of the named empty signature field, or None when the document has no field of that name."""
    try:
        found = next(iter(fields.enumerate_sig_fields(writer.prev, with_name=name)), None)
    except FormFillingError as exc:  # a field of that name that is no signature field
        raise SignatureFieldError(f"the document has a form field named {name!r} that is not a signature field; "
                                  "sign in a field of another name") from exc
    if found is None:
        return None
    field_name, value, ref = found
    if value is not None:
        raise SignatureFieldError(f"the signature field {field_name!r} is already signed")
    field = ref.get_object()
    if "/Rect" in field:
        return field
    kids = field.get("/Kids")
    kids = kids.get_object() if kids is not None else None
    if not kids or len(kids) != 1:
        raise SignatureFieldError(f"the signature field {field_name!r} has no single widget to show a signature in")
    return kids[0]


def _rotation_of(page: Any) -> int:
    for _ in range(MAX_TREE_DEPTH):  # /Rotate is inheritable from the page tree
        if page is None:
            return 0
        if "/Rotate" in page:
            try:
                rotate = float(page["/Rotate"])
            except (TypeError, ValueError) as exc:
                raise InvalidPdfError("the page's /Rotate is not a number") from exc
            if not rotate.is_integer() or rotate % 90:
                raise InvalidPdfError("the page's /Rotate is not a multiple of 90 degrees")
            return int(rotate) % 360
        parent = page.get("/Parent")
        page = parent.get_object() if parent is not None else None
    raise InvalidPdfError("the page tree is damaged: a page's /Parent chain loops or is too deep")


def _widget_page(writer: IncrementalPdfFileWriter, widget: Any, name: str) -> Any:
    if "/P" in widget:
        return widget["/P"]
    count = int(writer.prev.root["/Pages"]["/Count"])
    for index in range(count):  # no /P: look for the page that lists the widget
        page = writer.prev.find_page_for_modification(index)[0].get_object()
        if any(annot.get_object() is widget for annot in (page["/Annots"] if "/Annots" in page else ())):
            return page
    raise SignatureFieldError(f"the signature field {name!r} is on no page")


def _field_page(writer: IncrementalPdfFileWriter, spec: SignSpec, widget: Any | None) -> Any:
    """The page the signature shows on: the existing field's, or the one its new field is added to."""
    if widget is not None:
        return _widget_page(writer, widget, spec.field_name)
    fields.append_signature_field(
        writer, fields.SigFieldSpec(spec.field_name, on_page=spec.page_index, box=_int_box(spec.box))
    )
    return writer.prev.find_page_for_modification(spec.page_index)[0].get_object()


def _style(signer: signers.Signer, spec: SignSpec, rotate: int) -> SealStampStyle | TextStampStyle:
    if not spec.appearance_pdf:
        return TextStampStyle(stamp_text="%(signer)s\n%(ts)s", border_width=0,
                              timestamp_format="%Y-%m-%d %H:%M:%S UTC")
    assert signer.signing_cert is not None
    name = signer.signing_cert.subject.native.get("common_name", "")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return SealStampStyle(seal_pdf=spec.appearance_pdf, caption_lines=(name, when), rotate=rotate)


def sign_pdf(
    data: bytes,
    signer: signers.Signer,
    spec: SignSpec,
    timestamper: timestamps.TimeStamper | None = None,
    long_term: LongTermSpec | None = None,
) -> bytes:
    """Add a visible PAdES signature (ETSI.CAdES.detached, SHA-256) in an incremental update.

    With a timestamper the signature carries an RFC 3161 timestamp (PAdES B-T); with `long_term` as well,
    validation data (B-LT) and, when asked, a document timestamp (B-LTA).
    """
    if long_term and not timestamper:
        raise SigningError("long-term signatures (B-LT, B-LTA) need a time-stamp authority")
    quiet_diff_analysis()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        revisions = writer.prev.xrefs.total_revisions
        widget = _existing_widget(writer, spec.field_name)
        signed_before = prepare_update(writer, spec.field_name, new_field=widget is None, certify=spec.certify,
                                       new_timestamp=bool(long_term and long_term.archive))
        style = _style(signer, spec, _rotation_of(_field_page(writer, spec, widget)))
        pdf_signer = signers.PdfSigner(_metadata(spec, long_term), signer=signer, stamp_style=style,
                                       timestamper=timestamper)
        out = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=out)
        if signed_before:
            check_update(out.getvalue(), revisions)
        return out.getvalue()
    except PyHankoSigningError as exc:  # a FormFillingError too: caught first
        raise SigningError(f"signing failed: {library_message(exc)}") from exc
    except TimestampRequestError as exc:
        raise TimeStampError(f"the time-stamp authority did not answer with a timestamp: "
                             f"{library_message(exc)}") from exc
    except LIBRARY_ERRORS as exc:
        raise InvalidPdfError(f"the PDF cannot be signed: {library_message(exc)}") from exc


def _metadata(spec: SignSpec, long_term: LongTermSpec | None) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=spec.field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=spec.reason or None,
        location=spec.location or None,
        certify=spec.certify,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
        embed_validation_info=long_term is not None,
        use_pades_lta=bool(long_term and long_term.archive),
        validation_context=(validation_context(long_term.trust_roots, long_term.crls, "soft-fail")
                            if long_term else None),
    )

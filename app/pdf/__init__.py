"""SealFlow's PDF library: seal images, stamping, signing, time-stamping, verification.

Bytes and frozen specs in, bytes (or a report) out. No Flask and no database here; errors leave as the
PdfError family.
"""

from app.pdf.appearance import appearance_aspect
from app.pdf.document import PdfInfo, count_signatures, inspect_pdf
from app.pdf.errors import (
    AlreadySignedError,
    EncryptedPdfError,
    InvalidPdfError,
    PdfError,
    SealImageError,
    SigningError,
    TimeStampError,
)
from app.pdf.overlays import QrSpec, WatermarkSpec
from app.pdf.pkcs11 import Pkcs11KeySpec, open_pkcs11_signer
from app.pdf.seal_image import SealImageSpec, render_seal_pdf, render_seal_png, render_seal_svg
from app.pdf.seal_upload import load_seal_image
from app.pdf.sign import (
    LongTermSpec,
    SignatureField,
    SigningIdentity,
    SignSpec,
    add_signature_fields,
    make_signer,
    sign_pdf,
)
from app.pdf.stamp import (
    EveryPageSpec,
    KeywordSpec,
    Placement,
    RidingSpec,
    StampPlan,
    StampSpec,
    locate,
    placement_rect,
    stamp,
    stamp_seal,
)
from app.pdf.tsa import TimeStampAuthority, external_timestamper
from app.pdf.verify import SignatureReport, VerificationReport, verify_pdf

__all__ = [
    "AlreadySignedError",
    "EncryptedPdfError",
    "EveryPageSpec",
    "InvalidPdfError",
    "KeywordSpec",
    "LongTermSpec",
    "PdfError",
    "PdfInfo",
    "Pkcs11KeySpec",
    "Placement",
    "QrSpec",
    "RidingSpec",
    "SealImageError",
    "SealImageSpec",
    "SignSpec",
    "SignatureField",
    "SignatureReport",
    "SigningError",
    "SigningIdentity",
    "StampPlan",
    "StampSpec",
    "TimeStampAuthority",
    "TimeStampError",
    "VerificationReport",
    "WatermarkSpec",
    "add_signature_fields",
    "appearance_aspect",
    "count_signatures",
    "external_timestamper",
    "inspect_pdf",
    "load_seal_image",
    "locate",
    "make_signer",
    "open_pkcs11_signer",
    "placement_rect",
    "render_seal_pdf",
    "render_seal_png",
    "render_seal_svg",
    "sign_pdf",
    "stamp",
    "stamp_seal",
    "verify_pdf",
]

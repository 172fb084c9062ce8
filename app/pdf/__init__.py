"""SealFlow's PDF library: seal images, stamping, signing. Bytes and frozen specs in, bytes out.

No Flask and no database here; errors leave as the PdfError family.
"""

from app.pdf.document import PdfInfo, count_signatures, inspect_pdf
from app.pdf.errors import (
    AlreadySignedError,
    EncryptedPdfError,
    InvalidPdfError,
    PdfError,
    SealImageError,
    SigningError,
)
from app.pdf.overlays import QrSpec, WatermarkSpec
from app.pdf.seal_image import SealImageSpec, render_seal_pdf, render_seal_svg
from app.pdf.sign import SignatureField, SigningIdentity, SignSpec, add_signature_fields, make_signer, sign_pdf
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

__all__ = [
    "SignatureField",
    "add_signature_fields",
    "stamp",
    "locate",
    "WatermarkSpec",
    "QrSpec",
    "StampPlan",
    "RidingSpec",
    "KeywordSpec",
    "EveryPageSpec",
    "AlreadySignedError",
    "EncryptedPdfError",
    "InvalidPdfError",
    "PdfError",
    "PdfInfo",
    "Placement",
    "SealImageError",
    "SealImageSpec",
    "SignSpec",
    "SigningError",
    "SigningIdentity",
    "StampSpec",
    "count_signatures",
    "inspect_pdf",
    "make_signer",
    "placement_rect",
    "render_seal_pdf",
    "render_seal_svg",
    "sign_pdf",
    "stamp_seal",
]

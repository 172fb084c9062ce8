"""SealFlow's PDF library: seal images, stamping, signing, verification.

Bytes and frozen specs in, bytes (or a report) out. No Flask and no database here; errors leave as the
PdfError family (and, from signing, app.pki's PkiError family). Keys, certificates and the TSA are app.pki's.

Each name is imported from its module on first use (app/lazy_imports.py): importing one name (an error class, say)
does not load pikepdf, pyHanko and reportlab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_imports import export_lazily

if TYPE_CHECKING:
    from app.pdf.appearance import appearance_aspect
    from app.pdf.archive import NewestTimestamp, add_archive_timestamp, newest_timestamp
    from app.pdf.document import (
        CHECK_VERSION,
        MAX_PAGE_DECODED,
        ContentCheck,
        PdfInfo,
        check_signable,
        count_signatures,
        inspect_pdf,
        signed_field_names,
    )
    from app.pdf.errors import (
        AlreadySignedError,
        EncryptedPdfError,
        InvalidPdfError,
        PdfError,
        SealImageError,
        SignatureFieldError,
    )
    from app.pdf.evidence import (
        EVIDENCE_FILE,
        EVIDENCE_FORMAT,
        Evidence,
        EvidenceApproval,
        EvidenceReport,
        read_evidence,
    )
    from app.pdf.ledger import LedgerSpec, render_ledger
    from app.pdf.letter import LetterSpec, render_letter
    from app.pdf.notice import NoticeSpec, render_notice
    from app.pdf.overlays import QrSpec, WatermarkSpec
    from app.pdf.revocation import Revocation
    from app.pdf.seal_image import (
        SealImageSpec,
        render_seal_pdf,
        render_seal_png,
        render_seal_preview,
        render_seal_svg,
    )
    from app.pdf.seal_upload import SealUploadLimits, load_seal_image
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
        place,
        placement_rect,
        stamp,
        stamp_seal,
    )
    from app.pdf.verify import SignatureReport, VerificationReport, verify_pdf

_MODULES: dict[str, tuple[str, ...]] = {
    ".appearance": ("appearance_aspect",),
    ".archive": ("NewestTimestamp", "add_archive_timestamp", "newest_timestamp"),
    ".document": (
        "CHECK_VERSION",
        "MAX_PAGE_DECODED",
        "ContentCheck",
        "PdfInfo",
        "check_signable",
        "count_signatures",
        "inspect_pdf",
        "signed_field_names",
    ),
    ".errors": (
        "AlreadySignedError",
        "EncryptedPdfError",
        "InvalidPdfError",
        "PdfError",
        "SealImageError",
        "SignatureFieldError",
    ),
    ".evidence": (
        "EVIDENCE_FILE",
        "EVIDENCE_FORMAT",
        "Evidence",
        "EvidenceApproval",
        "EvidenceReport",
        "read_evidence",
    ),
    ".ledger": ("LedgerSpec", "render_ledger"),
    ".letter": ("LetterSpec", "render_letter"),
    ".notice": ("NoticeSpec", "render_notice"),
    ".overlays": ("QrSpec", "WatermarkSpec"),
    ".revocation": ("Revocation",),
    ".seal_image": ("SealImageSpec", "render_seal_pdf", "render_seal_png", "render_seal_preview", "render_seal_svg"),
    ".seal_upload": ("SealUploadLimits", "load_seal_image"),
    ".sign": (
        "LongTermSpec",
        "SignatureField",
        "SigningIdentity",
        "SignSpec",
        "add_signature_fields",
        "make_signer",
        "sign_pdf",
    ),
    ".stamp": (
        "EveryPageSpec",
        "KeywordSpec",
        "Placement",
        "RidingSpec",
        "StampPlan",
        "StampSpec",
        "locate",
        "place",
        "placement_rect",
        "stamp",
        "stamp_seal",
    ),
    ".verify": ("SignatureReport", "VerificationReport", "verify_pdf"),
}
export_lazily(__name__, _MODULES)

__all__ = [
    "NewestTimestamp",
    "add_archive_timestamp",
    "newest_timestamp",
    "EVIDENCE_FILE",
    "EVIDENCE_FORMAT",
    "CHECK_VERSION",
    "MAX_PAGE_DECODED",
    "AlreadySignedError",
    "ContentCheck",
    "EncryptedPdfError",
    "EveryPageSpec",
    "Evidence",
    "EvidenceApproval",
    "EvidenceReport",
    "InvalidPdfError",
    "KeywordSpec",
    "LedgerSpec",
    "LetterSpec",
    "LongTermSpec",
    "NoticeSpec",
    "PdfError",
    "PdfInfo",
    "Placement",
    "QrSpec",
    "Revocation",
    "RidingSpec",
    "SealImageError",
    "SealImageSpec",
    "SealUploadLimits",
    "SignSpec",
    "SignatureField",
    "SignatureFieldError",
    "SignatureReport",
    "SigningIdentity",
    "StampPlan",
    "StampSpec",
    "VerificationReport",
    "WatermarkSpec",
    "add_signature_fields",
    "appearance_aspect",
    "check_signable",
    "count_signatures",
    "inspect_pdf",
    "load_seal_image",
    "locate",
    "place",
    "make_signer",
    "placement_rect",
    "read_evidence",
    "render_ledger",
    "render_letter",
    "render_notice",
    "render_seal_pdf",
    "render_seal_png",
    "render_seal_preview",
    "render_seal_svg",
    "sign_pdf",
    "signed_field_names",
    "stamp",
    "stamp_seal",
    "verify_pdf",
]

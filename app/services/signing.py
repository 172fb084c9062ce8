"""Signing PDF bytes with a seal's key: the one way SealFlow signs, for sealing jobs, letters and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from app.models import Seal, SealImage
from app.services import keys
from app.services.documents import pdf_errors, pdf_limits

if TYPE_CHECKING:
    from app.pdf import KeywordSpec, StampSpec


def sign_with_seal(seal: Seal, content: bytes, field_name: str, reason: str,
                   placement: StampSpec | KeywordSpec | None = None, certify: bool = False,
                   level: str | None = None, image: SealImage | None = None) -> bytes:
    """Sign PDF bytes with the seal's key (PAdES, at `level`, default SIGNATURE_LEVEL), the seal image (`image`, a
    version the caller records; default the current one) as the signature's appearance: at the placement, or in
    the empty field of that name the document already has. A document pyHanko could not update soundly (damaged:
    stamping writes a repaired copy) is refused first."""
    from app.pdf import SignSpec, appearance_aspect, check_signable, place, sign_pdf

    appearance = (image or seal.current_image).image_pdf
    with pdf_errors():
        page_index, box = 0, (0.0, 0.0, 0.0, 0.0)
        if placement is not None:  # checked as check_signable does, in the same reading
            found = place(content, [(placement, appearance_aspect(appearance))], **pdf_limits(), signable=True)[0]
            page_index, box = found.page_index, found.rect
        else:
            check_signable(content, current_app.config["MAX_PDF_PAGES"])
        spec = SignSpec(field_name=field_name, page_index=page_index, box=box, reason=reason,
                        location=current_app.config["ORGANISATION_NAME"], appearance_pdf=appearance,
                        certify=certify)
        with keys.signer_for(seal) as signer:
            return sign_pdf(content, signer, spec, timestamper=keys.timestamper(level),
                            long_term=keys.long_term(level))

"""Long-term validity upkeep (PAdES B-LTA): how long a sealed PDF's newest time-stamp can still be checked (its TSA
certificate's expiry), and a new document time-stamp over the whole file, with the validation data (certificates,
CRLs) of what it covers, in an incremental update that leaves every earlier signature valid."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import timestamps
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.validation import add_validation_info
from pyhanko.sign.validation.generic_cms import extract_certs_for_validation

from app.pdf.errors import InvalidPdfError, library_message
from app.pdf.revisions import check_update, prepare_update, quiet_diff_analysis
from app.pdf.sign import LIBRARY_ERRORS, LongTermSpec
from app.pki.errors import TimeStampError
from app.pki.trust import validation_context

__all__ = ["NewestTimestamp", "add_archive_timestamp", "newest_timestamp"]


@dataclass(frozen=True)
class NewestTimestamp:
    """The newest time-stamp a PDF carries (a signature's own or a document time-stamp): when it was made, and until
    when its authority's certificate lets it be checked."""

    at: dt.datetime
    tsa_expires: dt.datetime
    document_timestamp: bool


def _token_facts(signed_data: cms.SignedData, document_timestamp: bool) -> NewestTimestamp:
    info = signed_data["encap_content_info"]["content"].parsed
    certificate = extract_certs_for_validation(signed_data).signer_cert
    return NewestTimestamp(info["gen_time"].native, certificate["tbs_certificate"]["validity"]["not_after"].native,
                           document_timestamp)


def _tokens(embedded: Any) -> list[NewestTimestamp]:
    if embedded.sig_object_type == "/DocTimeStamp":
        return [_token_facts(embedded.signed_data, True)]
    unsigned = extract_signer_info(embedded.signed_data)["unsigned_attrs"]
    return [_token_facts(value["content"], False) for attribute in (unsigned if unsigned.native else ())
            if attribute["type"].native == "signature_time_stamp_token" for value in attribute["values"]]


def newest_timestamp(data: bytes) -> NewestTimestamp | None:
    """The PDF's newest time-stamp, None when it carries none (B-B, or unsigned). Raises InvalidPdfError for a file
    that cannot be read."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        found = [token for embedded in reader.embedded_signatures for token in _tokens(embedded)]
    except (*LIBRARY_ERRORS, KeyError) as exc:
        raise InvalidPdfError(f"the PDF's time-stamps cannot be read: {library_message(exc)}") from exc
    return max(found, key=lambda t: t.at, default=None)


def add_archive_timestamp(data: bytes, timestamper: timestamps.TimeStamper, long_term: LongTermSpec) -> bytes:
    """The PDF with the validation data of its signatures and time-stamps, and a new document time-stamp over it all
    (B-LTA), appended as incremental updates; refused (InvalidPdfError) if it would invalidate an earlier signature."""
    quiet_diff_analysis()
    context = validation_context(long_term.trust_roots, long_term.crls, "soft-fail")
    try:
        current = data
        reader = PdfFileReader(io.BytesIO(current), strict=False)
        revisions = reader.xrefs.total_revisions
        for index in range(len(reader.embedded_signatures)):
            # Each addition is its own revision, read afresh: the signature's chain and CRLs into the DSS.
            embedded = PdfFileReader(io.BytesIO(current), strict=False).embedded_signatures[index]
            current = add_validation_info(embedded, context, skip_timestamp=False, add_vri_entry=False,
                                          in_place=False).getvalue()
        writer = IncrementalPdfFileWriter(io.BytesIO(current), strict=False)
        prepare_update(writer, None, new_field=False, new_timestamp=True)
        out = io.BytesIO()
        PdfTimeStamper(timestamper).timestamp_pdf(
            writer, "sha256", validation_context=context, output=out,
            dss_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True))
        check_update(out.getvalue(), revisions)
        return out.getvalue()
    except TimestampRequestError as exc:
        raise TimeStampError(f"the time-stamp authority did not answer: {library_message(exc)}") from exc
    except (*LIBRARY_ERRORS, KeyError) as exc:
        raise InvalidPdfError(f"the PDF cannot be time-stamped: {library_message(exc)}") from exc

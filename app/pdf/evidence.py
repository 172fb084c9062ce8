"""The approval evidence a sealed PDF carries: a JSON file embedded in the document (an EmbeddedFiles entry,
readable by any PDF tool: `qpdf --show-attachment=sealflow-evidence.json`, `pdfdetach`, pikepdf) before it is
signed, so that the signature covers it: which application, which approvals by whom and when, and the audit
chain's head at sealing time."""

from __future__ import annotations

import io
import json
import zlib
from datetime import UTC, datetime
from typing import Any

import pikepdf

from app.pdf.document import open_pdf
from app.pdf.errors import InvalidPdfError

__all__ = ["EVIDENCE_FILE", "attach_evidence", "read_evidence"]

EVIDENCE_FILE = "sealflow-evidence.json"
MAX_EVIDENCE = 256 * 1024  # bytes: a few dozen approvals fit many times over; a larger file is not ours


def attach_evidence(pdf: pikepdf.Pdf, evidence: dict[str, Any]) -> None:
    """Embed the evidence in an open PDF (replacing an earlier copy); it is written with the next save."""
    data = json.dumps(evidence, ensure_ascii=False, sort_keys=True, indent=1).encode()
    stamp = f"D:{datetime.now(UTC):%Y%m%d%H%M%S}Z"
    spec = pikepdf.AttachedFileSpec(pdf, data, description="SealFlow approval evidence", filename=EVIDENCE_FILE,
                                    mime_type="application/json", creation_date=stamp, mod_date=stamp)
    pdf.attachments[EVIDENCE_FILE] = spec


def _bounded(stream: pikepdf.Object) -> bytes:
    """The stream's content, decoded no further than MAX_EVIDENCE: a file that inflates to gigabytes is refused
    after reading a little more than the limit, never decoded whole."""
    filters = stream.get("/Filter")
    raw = stream.read_raw_bytes()
    if filters is None:
        content = raw
    elif filters == pikepdf.Name.FlateDecode and stream.get("/DecodeParms") is None:
        content = zlib.decompressobj().decompress(raw, MAX_EVIDENCE + 1)
    else:
        raise InvalidPdfError("the embedded approval evidence is encoded in a way SealFlow never writes")
    if len(content) > MAX_EVIDENCE:
        raise InvalidPdfError("the embedded approval evidence is too large to be SealFlow's")
    return content


def read_evidence(data: bytes, max_pages: int = 2000) -> dict[str, Any] | None:
    """The evidence a PDF carries, or None when it has none. A damaged evidence file is an InvalidPdfError."""
    with open_pdf(data, max_pages) as pdf:
        try:
            attached = pdf.attachments.get(EVIDENCE_FILE)
            if attached is None:
                return None
            content = _bounded(attached.get_file().obj)
        except (pikepdf.PdfError, KeyError, AttributeError, zlib.error) as exc:
            raise InvalidPdfError("the embedded approval evidence cannot be read") from exc
    try:
        evidence = json.load(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPdfError("the embedded approval evidence is not JSON") from exc
    return evidence if isinstance(evidence, dict) else None

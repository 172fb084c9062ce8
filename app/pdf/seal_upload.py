"""Seal images uploaded by a seal administrator: PNG, SVG or PDF, told apart by content, each turned into a
one-page PDF whose page box is exactly the image.

Every input is bounded (`SealUploadLimits`) before the part it bounds is decoded or drawn: the file's size, a
raster image's pixels by its header, an SVG's elements, nesting, path data, text and style rules while parsing
it, a PDF's objects, pages, page size and decoded streams before copying its page. Last, the accepted
seal's preview is drawn once in a child process on a clock, so that no preview of an accepted seal is slow.
"""

from __future__ import annotations

import io
import struct

import pikepdf
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from app.pdf.errors import SealImageError
from app.pdf.seal_image import trial_render
from app.pdf.seal_limits import (
    MAX_UPLOAD_BYTES,
    PNG_SIGNATURE,
    SealUploadLimits,
    check_seal_size,
    check_total_pixels,
    image_pixels,
)
from app.pdf.seal_upload_pdf import pdf_to_seal_pdf
from app.pdf.seal_upload_svg import svg_to_pdf

__all__ = ["MAX_UPLOAD_BYTES", "SealUploadLimits", "load_seal_image"]

DEFAULT_LIMITS = SealUploadLimits()


def load_seal_image(data: bytes, limits: SealUploadLimits = DEFAULT_LIMITS) -> bytes:
    """An uploaded PNG, SVG or PDF (told apart by content) as a one-page PDF whose page box is the image.

    Refused with SealImageError, before anything unbounded is decoded: files over `limits.max_bytes`, raster
    images (uploaded or embedded) over the pixel limits, SVGs with a DOCTYPE, references to other files, or
    more elements, nesting, path data, text or style rules than the limits, PDFs that are encrypted,
    not exactly one page, or over the object, stream or operation limits, seals over `limits.max_side_mm`, and
    seals whose preview takes over `limits.render_seconds` to draw.
    """
    if len(data) > limits.max_bytes:
        raise SealImageError(f"the seal image is {_size(len(data))}; the limit is {_size(limits.max_bytes)}")
    if data.startswith(PNG_SIGNATURE):
        seal = _png_to_pdf(data, limits)
    elif b"%PDF-" in data[:1024]:
        seal = pdf_to_seal_pdf(data, limits)
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        seal = svg_to_pdf(data, limits)
    else:
        raise SealImageError("the seal image must be a PNG, SVG or PDF file")
    _check_page_size(seal, limits)
    trial_render(seal, limits.render_seconds)
    return seal


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB".replace(".0 MiB", " MiB") if count >= 2**20 else f"{count:,} bytes"


def _png_to_pdf(data: bytes, limits: SealUploadLimits) -> bytes:
    # The size from the PNG header, before decoding, so that a decompression bomb costs nothing.
    check_total_pixels(image_pixels(data, ("PNG",), limits, "the PNG"), limits)
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as opened:
            image = opened.convert("RGBA")
            dpi = opened.info.get("dpi", (300, 300))[0]
    except (OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError) as exc:
        raise SealImageError(f"the PNG file cannot be read ({exc})") from exc
    # The page's physical size only matters until stamping scales it; 300 dpi unless the file says, and never
    # so few dots an inch that the seal is over the longest side allowed.
    dpi = dpi if 72 <= dpi <= 2400 else 300
    dpi = max(dpi, max(image.width, image.height) * 25.4 / limits.max_side_mm)
    width, height = image.width * 72 / dpi, image.height * 72 / dpi
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height))
    canvas.drawImage(ImageReader(image), 0, 0, width, height, mask="auto")  # alpha becomes a soft mask
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _check_page_size(seal: bytes, limits: SealUploadLimits) -> None:
    """The seal's longer side is at most `max_side_mm` (read from the PDF this module wrote)."""
    with pikepdf.open(io.BytesIO(seal)) as pdf:
        x1, y1, x2, y2 = (float(v) for v in pdf.pages[0].mediabox)
    check_seal_size(abs(x2 - x1), abs(y2 - y1), limits)



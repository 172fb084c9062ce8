"""Vector overlays drawn with reportlab, each a one-page PDF to place as a Form XObject: watermark, QR code."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas

from app.pdf.errors import PdfError
from app.pdf.fonts import font_for
from app.pdf.geometry import MM, Corner

__all__ = ["QrDrawing", "QrSpec", "WatermarkSpec", "qr_drawing", "watermark_pdf"]

WATERMARK_CANVAS = 3000.0  # points; an A0 sheet is 3370 long, so only posters get a scaled-up watermark
MIN_FONT_SIZE, MAX_FONT_SIZE = 6.0, 400.0


@dataclass(frozen=True)
class WatermarkSpec:
    """Diagonal, semi-transparent text repeated over every page (e.g. 机密 · requester · date)."""

    text: str
    opacity: float = 0.12
    font_size: float = 28.0
    angle: float = 35.0
    pages: str = "all"


@dataclass(frozen=True)
class QrSpec:
    """A QR code linking to the application's verification page, on one page (default: the last)."""

    url: str
    page: int = -1
    size_mm: float = 18.0
    x_mm: float = 12.0
    y_mm: float = 12.0
    corner: Corner = "bottom-left"
    caption: str = ""


def _canvas(width: float, height: float) -> tuple[Canvas, io.BytesIO]:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height), pageCompression=1)
    canvas.setAuthor("SealFlow")
    return canvas, out


def watermark_pdf(spec: WatermarkSpec, width: float, height: float) -> bytes:
    """A page of the given shape covered by the watermark text in diagonal rows. A page larger than
    WATERMARK_CANVAS gets a drawing of that size, to be scaled up: the rows drawn stay a few hundred however
    large the page."""
    text = " ".join(spec.text.split())
    if not text:
        raise PdfError("the watermark text is empty")
    if not 0 < spec.opacity <= 1:
        raise PdfError("the watermark opacity must be above 0 and at most 1")
    if not MIN_FONT_SIZE <= spec.font_size <= MAX_FONT_SIZE:
        raise PdfError(f"the watermark font size must be between {MIN_FONT_SIZE:g} and {MAX_FONT_SIZE:g} points")
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise PdfError("the watermark needs a page of finite, positive size")
    shrink = max(width, height) / WATERMARK_CANVAS
    if shrink > 1:
        width, height = width / shrink, height / shrink
    font = font_for(text)
    canvas, out = _canvas(width, height)
    canvas.setFillColor(Color(0.45, 0.45, 0.45))
    canvas.setFillAlpha(spec.opacity)
    canvas.setFont(font, spec.font_size)
    line = canvas.stringWidth(text, font, spec.font_size) + spec.font_size * 3
    diagonal = math.hypot(width, height)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(spec.angle)
    row_gap = spec.font_size * 5
    rows = int(diagonal / row_gap / 2) + 1
    for row in range(-rows, rows + 1):
        offset = (row % 2) * line / 2  # stagger the rows so the text reads as a pattern
        x = -diagonal / 2 - offset
        while x < diagonal / 2:
            canvas.drawString(x, row * row_gap, text)
            x += line
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@dataclass(frozen=True)
class QrDrawing:
    """The QR code as content-stream operators (black squares on white, an optional Helvetica caption
    beneath) in a box of `width` x `height` points; drawn straight into a Form XObject, no PDF round trip."""

    ops: bytes
    width: float
    height: float


def qr_drawing(spec: QrSpec) -> QrDrawing:
    if not spec.url.strip():
        raise PdfError("the QR code needs a URL")
    if not spec.caption.isascii() or any(c in spec.caption for c in "()\\"):
        raise PdfError("the QR code's caption must be plain ASCII text without parentheses or backslashes")
    # A fixed mask pattern: any of the eight is valid for scanners, and scoring all eight (qrcode's default)
    # costs about 6 ms per document in pure Python.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=0)
    code.add_data(spec.url)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = spec.size_mm * MM
    cell = size / len(matrix)
    caption_height = 2.2 * MM if spec.caption else 0.0
    ops = [f"1 1 1 rg 0 {caption_height:.3f} {size:.3f} {size:.3f} re f 0 0 0 rg"]
    for row, cells in enumerate(matrix):
        y = caption_height + size - (row + 1) * cell
        for column, dark in enumerate(cells):
            if dark:
                ops.append(f"{column * cell:.3f} {y:.3f} {cell:.3f} {cell:.3f} re")
    ops.append("f")
    if spec.caption:
        font_size = 1.6 * MM
        width = len(spec.caption) * font_size * 0.55  # Helvetica's average advance, to centre roughly
        ops.append(f"BT /F1 {font_size:.3f} Tf {(size - width) / 2:.3f} {0.4 * MM:.3f} Td ({spec.caption}) Tj ET")
    return QrDrawing("\n".join(ops).encode("ascii"), size, size + caption_height)

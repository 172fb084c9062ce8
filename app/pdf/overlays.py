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

__all__ = ["QrSpec", "WatermarkSpec", "qr_pdf", "watermark_pdf"]


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
    """A page of the given size covered by the watermark text in diagonal rows."""
    text = " ".join(spec.text.split())
    if not text:
        raise PdfError("the watermark text is empty")
    if not 0 < spec.opacity <= 1:
        raise PdfError("the watermark opacity must be above 0 and at most 1")
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


def qr_pdf(spec: QrSpec) -> bytes:
    """The QR code as vector squares, with an optional caption beneath; the page is exactly the drawing."""
    if not spec.url.strip():
        raise PdfError("the QR code needs a URL")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(spec.url)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = spec.size_mm * MM
    cell = size / len(matrix)
    caption_height = 2.2 * MM if spec.caption else 0.0
    canvas, out = _canvas(size, size + caption_height)
    canvas.setFillColor(Color(1, 1, 1))
    canvas.rect(0, caption_height, size, size, stroke=0, fill=1)
    canvas.setFillColor(Color(0, 0, 0))
    path = canvas.beginPath()
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                path.rect(column * cell, caption_height + size - (row + 1) * cell, cell, cell)
    canvas.drawPath(path, stroke=0, fill=1)
    if spec.caption:
        font = font_for(spec.caption)
        canvas.setFont(font, 1.6 * MM)
        canvas.drawCentredString(size / 2, 0.4 * MM, spec.caption)
    canvas.showPage()
    canvas.save()
    return out.getvalue()

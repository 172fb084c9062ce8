"""The visible appearance of a seal signature: the seal image with the signer and time beneath, upright on
rotated pages. A pyHanko stamp style, so that pyHanko builds the widget inside the signed revision."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pikepdf
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.stamp import BaseStamp, BaseStampStyle
from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas

from app.pdf.errors import SealImageError
from app.pdf.fonts import font_for
from app.pdf.geometry import Frame

__all__ = ["CAPTION_SHARE", "SealStampStyle", "appearance_aspect", "caption_pdf"]

CAPTION_SHARE = 0.22  # of the appearance's height, under the seal


def caption_pdf(lines: tuple[str, ...], width: float, height: float) -> bytes:
    """Small dark text lines, centred, sized to fit the box (CJK glyphs embedded)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height))
    canvas.setFillColor(Color(0.15, 0.15, 0.15))
    size = min(height / max(len(lines), 1) * 0.8, 9.0)
    for index, line in enumerate(lines):
        font = font_for(line)
        fitted = min(size, size * width / max(canvas.stringWidth(line, font, size), 1.0))
        canvas.setFont(font, fitted)
        canvas.drawCentredString(width / 2, height - (index + 1) * size * 1.1 + size * 0.2, line)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@dataclass(frozen=True)
class SealStampStyle(BaseStampStyle):
    """Seal image on top, caption below, both drawn in the page's visible orientation."""

    seal_pdf: bytes = b""
    caption_lines: tuple[str, ...] = ()
    rotate: int = 0
    border_width: int = 0

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> BaseStamp:
        return _SealStamp(writer, self, box)


class _SealStamp(BaseStamp):
    style: SealStampStyle

    def _layer(self, data: bytes, frame: Frame, u: float, v: float, width: float, height: float) -> bytes:
        assert self.writer is not None  # pyHanko sets it before rendering
        xobject = self.writer.import_page_as_xobject(PdfFileReader(io.BytesIO(data), strict=False), page_ix=0)
        x1, y1, x2, y2 = (float(n) for n in xobject.get_object()["/BBox"])
        x1, y1 = min(x1, x2), min(y1, y2)
        name = f"/SealFlow{len(self.resources.xobject)}"
        self.resources.xobject[name] = xobject
        scale = min(width / abs(x2 - x1), height / abs(y2 - y1))
        # Centre the layer in its slot, keeping its aspect.
        u += (width - abs(x2 - x1) * scale) / 2
        v += (height - abs(y2 - y1) * scale) / 2
        matrix = " ".join(f"{n:.4f}" for n in frame.matrix(u, v, scale, scale))
        return f"q {matrix} cm 1 0 0 1 {-x1:.4f} {-y1:.4f} cm {name} Do Q".encode()

    def _render_inner_content(self) -> list[bytes]:
        box_w, box_h = float(self.box.width), float(self.box.height)
        rotated = self.style.rotate in (90, 270)
        visible_w, visible_h = (box_h, box_w) if rotated else (box_w, box_h)
        frame = Frame(visible_w, visible_h, self.style.rotate, 0, 0, box_w, box_h)
        caption_h = visible_h * CAPTION_SHARE if self.style.caption_lines else 0.0
        ops = [self._layer(self.style.seal_pdf, frame, 0, caption_h, visible_w, visible_h - caption_h)]
        if self.style.caption_lines:
            caption = caption_pdf(self.style.caption_lines, visible_w, caption_h)
            ops.append(self._layer(caption, frame, 0, 0, visible_w, caption_h))
        return ops


def appearance_aspect(seal_pdf: bytes) -> float:
    """Height over width of a signature appearance showing this seal with its caption beneath."""
    try:
        with pikepdf.open(io.BytesIO(seal_pdf)) as seal:
            x1, y1, x2, y2 = (float(v) for v in seal.pages[0].mediabox)
    except (pikepdf.PdfError, IndexError) as exc:
        raise SealImageError("the seal image is not a readable one-page PDF") from exc
    return abs(y2 - y1) / abs(x2 - x1) / (1 - CAPTION_SHARE)

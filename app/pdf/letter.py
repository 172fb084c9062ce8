"""Letters SealFlow writes itself, such as a leader's signature authorization (授权书): a one-page A4 PDF of titled
lines, drawn with reportlab, ready to be signed."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from app.pdf.fonts import font_for
from app.pdf.geometry import MM

__all__ = ["LetterSpec", "render_letter"]

MARGIN = 25 * MM
LINE = 7 * MM
MAX_LINES = 30
FONT_SIZE = 11


@dataclass(frozen=True)
class LetterSpec:
    """A title and the lines of the letter, in order; the signature goes in the box left at the bottom right."""

    title: str
    lines: tuple[str, ...]


def _wrapped(lines: tuple[str, ...], font: str, width: float) -> list[str]:
    """The lines broken at spaces to fit the width (an empty line stays a blank line)."""
    out: list[str] = []
    for line in lines:
        out += simpleSplit(line, font, FONT_SIZE, width) or [""]
    return out[:MAX_LINES]


def render_letter(spec: LetterSpec) -> bytes:
    """The letter as PDF bytes; the bottom 60 mm stay free for the signature."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    width, height = A4
    # One face for the whole letter: the CJK font when any line needs it (it draws Latin text too).
    font = font_for("".join((spec.title, *spec.lines)))
    canvas.setFont(font, 18)
    canvas.drawCentredString(width / 2, height - MARGIN, spec.title)
    canvas.setFont(font, FONT_SIZE)
    y = height - MARGIN - 2 * LINE
    for line in _wrapped(spec.lines, font, width - 2 * MARGIN):
        canvas.drawString(MARGIN, y, line)
        y -= LINE
    canvas.showPage()
    canvas.save()
    return out.getvalue()

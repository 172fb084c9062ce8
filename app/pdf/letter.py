"""Letters SealFlow writes itself, such as a leader's signature authorization (授权书): a one-page A4 PDF of titled
lines, drawn with reportlab, ready to be signed."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from app.pdf.fonts import font_for
from app.pdf.geometry import MM

__all__ = ["LetterSpec", "render_letter"]

MARGIN = 25 * MM
LINE = 7 * MM
MAX_LINES = 30
MAX_CHARS = 70  # per line; longer ones are wrapped


@dataclass(frozen=True)
class LetterSpec:
    """A title and the lines of the letter, in order; the signature goes in the box left at the bottom right."""

    title: str
    lines: tuple[str, ...]


def _wrapped(lines: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out += [line[i:i + MAX_CHARS] for i in range(0, max(len(line), 1), MAX_CHARS)]
    return out[:MAX_LINES]


def render_letter(spec: LetterSpec) -> bytes:
    """The letter as PDF bytes; the bottom 60 mm stay free for the signature."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    width, height = A4
    canvas.setFont(font_for(spec.title), 18)
    canvas.drawCentredString(width / 2, height - MARGIN, spec.title)
    y = height - MARGIN - 2 * LINE
    for line in _wrapped(spec.lines):
        canvas.setFont(font_for(line) if line else "Helvetica", 11)
        canvas.drawString(MARGIN, y, line)
        y -= LINE
    canvas.showPage()
    canvas.save()
    return out.getvalue()

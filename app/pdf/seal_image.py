"""Seal images drawn as vector graphics with reportlab: a one-page PDF to stamp, an SVG to preview."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.shapes import Circle, Drawing, Group, Polygon, Rect, String
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from app.pdf.errors import SealImageError

__all__ = ["CJK_FONT_PACKAGE", "SealImageSpec", "render_seal_pdf", "render_seal_svg"]

MM = 72 / 25.4
SEAL_RED = Color(0.85, 0.1, 0.1)
# Face 0 of WenQuanYi Zen Hei has TrueType outlines, which reportlab can embed.
CJK_FONT_PATHS = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),)
CJK_FONT_PACKAGE = "fonts-wqy-zenhei (Debian/Ubuntu: apt-get install fonts-wqy-zenhei)"


@dataclass(frozen=True)
class SealImageSpec:
    """What to draw. `shape` round: company-style seal; square: legal-representative seal."""

    organisation: str
    purpose: str = ""
    serial: str = ""
    shape: Literal["round", "square"] = "round"
    size_mm: float = 40.0


@cache
def _font_for(text: str) -> str:
    if text.isascii():
        return "Helvetica-Bold"
    for path in CJK_FONT_PATHS:
        if path.exists():
            if "SealFlowCJK" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("SealFlowCJK", str(path), subfontIndex=0))
            return "SealFlowCJK"
    raise SealImageError(f"drawing non-Latin seal text needs a CJK TrueType font: install {CJK_FONT_PACKAGE}")


def _arc_text(text: str, radius: float, centre: float, font_size: float) -> Group:
    """Characters spread along the upper arc, each rotated to face outwards."""
    group = Group()
    font = _font_for(text)
    span = min(240.0, 16.0 * len(text) * font_size / 9)
    step = span / max(len(text) - 1, 1)
    for index, char in enumerate(text):
        angle = 90 + span / 2 - index * step
        rad = math.radians(angle)
        x, y = centre + radius * math.cos(rad), centre + radius * math.sin(rad)
        glyph = Group(String(0, 0, char, fontName=font, fontSize=font_size, fillColor=SEAL_RED, textAnchor="middle"))
        rot = math.radians(angle - 90)
        glyph.transform = (math.cos(rot), math.sin(rot), -math.sin(rot), math.cos(rot), x, y)
        group.add(glyph)
    return group


def _star(cx: float, cy: float, outer: float) -> Polygon:
    inner = outer * 0.382
    points: list[float] = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.radians(90 + i * 36)
        points += [cx + r * math.cos(a), cy + r * math.sin(a)]
    return Polygon(points, fillColor=SEAL_RED, strokeColor=None)


def _drawing(spec: SealImageSpec) -> Drawing:
    size = spec.size_mm * MM
    centre = size / 2
    drawing = Drawing(size, size)
    if spec.shape == "square":
        border = size * 0.04
        drawing.add(Rect(border / 2, border / 2, size - border, size - border,
                         strokeColor=SEAL_RED, strokeWidth=border, fillColor=None))
        lines = [spec.organisation, spec.purpose] if spec.purpose else [spec.organisation]
        font_size = size * 0.22 / len(lines)
        for i, line in enumerate(lines):
            y = centre + font_size * (len(lines) / 2 - i - 0.8)
            drawing.add(String(centre, y, line, fontName=_font_for(line), fontSize=font_size,
                               fillColor=SEAL_RED, textAnchor="middle"))
        return drawing
    ring = size * 0.035
    drawing.add(Circle(centre, centre, centre - ring / 2, strokeColor=SEAL_RED, strokeWidth=ring, fillColor=None))
    drawing.add(_star(centre, centre, size * 0.16))
    font_size = size * 0.09
    drawing.add(_arc_text(spec.organisation, centre - ring - font_size * 1.45, centre, font_size))
    if spec.purpose:
        drawing.add(String(centre, size * 0.22, spec.purpose, fontName=_font_for(spec.purpose),
                           fontSize=font_size, fillColor=SEAL_RED, textAnchor="middle"))
    if spec.serial:
        drawing.add(String(centre, size * 0.1, spec.serial, fontName="Helvetica",
                           fontSize=font_size * 0.6, fillColor=SEAL_RED, textAnchor="middle"))
    return drawing


def render_seal_pdf(spec: SealImageSpec) -> bytes:
    """The seal as a one-page PDF whose page box is exactly the seal."""
    if not spec.organisation.strip():
        raise SealImageError("a seal needs the organisation or owner name")
    return bytes(renderPDF.drawToString(_drawing(spec)))


def render_seal_svg(spec: SealImageSpec) -> str:
    """The seal as SVG, for previews in the web pages."""
    return str(renderSVG.drawToString(_drawing(spec)))

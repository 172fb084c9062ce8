"""Seal images: drawn as vector graphics with reportlab, or read from an upload; a one-page PDF to stamp.

Every seal leaves this module as a one-page PDF whose page box, at the origin and unrotated, is exactly
the image; `render_seal_svg` and `render_seal_preview` make previews for the web pages, and `trial_render` times
an uploaded seal's preview in a child process before the upload is accepted.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

import pypdfium2
from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.shapes import Circle, Drawing, Ellipse, Group, Polygon, Rect, String
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics

from app.pdf import seal_render
from app.pdf.errors import SealImageError
from app.pdf.fonts import PDFIUM_LOCK, font_for
from app.pdf.geometry import MM
from app.pdf.seal_render import MAX_RENDER_SIDE, render_png

__all__ = [
    "MAX_IMAGE_PIXELS",
    "SealImageSpec",
    "render_seal_pdf",
    "PREVIEW_DPI",
    "PREVIEW_MAX_SIDE",
    "render_seal_png",
    "render_seal_preview",
    "render_seal_svg",
    "trial_render",
]

SEAL_RED = Color(0.85, 0.1, 0.1)
OVAL_ASPECT = 26 / 40  # height / width of the default oval personal seal (40 × 26 mm)
MAX_IMAGE_PIXELS = MAX_RENDER_SIDE  # per side, for uploaded images and for previews
PREVIEW_DPI = 100
PREVIEW_MAX_SIDE = 600  # pixels; the pages show previews 64 and 120 pixels wide
CHILD_START_SECONDS = 5.0  # allowed to the trial's child process for starting Python and pdfium, on a busy machine


@dataclass(frozen=True)
class SealImageSpec:
    """What to draw.

    `shape` round: company seal (ring, star, `organisation` along the upper arc, `purpose` such as 合同专用章
    under the star, `serial` along the lower arc); oval: personal seal (`organisation` is the owner's name,
    `purpose` an optional second line); square: legal-representative seal (the name alone).
    `size_mm` is the diameter, the oval's width or the square's side; `height_mm` is the oval's height
    (default `size_mm` × 0.65).
    """

    organisation: str
    purpose: str = ""
    serial: str = ""
    shape: Literal["round", "oval", "square"] = "round"
    size_mm: float = 40.0
    height_mm: float | None = None


def _ink(font: str) -> tuple[float, float]:
    """Bottom and top of the glyphs' ink relative to the baseline, per unit of font size (measured)."""
    return (-0.13, 0.83) if font == "SealFlowCJK" else (0.0, 0.72)


def _glyph(text: str, font: str, size: float, x: float, y: float, turn: float = 0.0,
           hscale: float = 1.0, vscale: float = 1.0) -> Group:
    """Text centred on (x, y) at its baseline, turned `turn` degrees counter-clockwise and scaled."""
    group = Group(String(0, 0, text, fontName=font, fontSize=size, fillColor=SEAL_RED, textAnchor="middle"))
    cos, sin = math.cos(math.radians(turn)), math.sin(math.radians(turn))
    group.transform = (cos * hscale, sin * hscale, -sin * vscale, cos * vscale, x, y)
    return group


def _arc_text(text: str, centre: tuple[float, float], outer: float, font_size: float, span: float,
              upper: bool = True) -> Group:
    """Characters laid along an arc whose outer edge is at radius `outer`, over `span` degrees.

    Upper arc: read clockwise, tops outwards. Lower arc: read counter-clockwise, tops towards the centre.
    Each character gets an angle in proportion to its width; when crowded, glyphs are narrowed, never overlapped.
    """
    font = font_for(text)
    bottom, top = _ink(font)
    baseline = outer - top * font_size if upper else outer + bottom * font_size
    inner = outer - (top - bottom) * font_size  # the narrowest circle the glyphs touch
    widths = [pdfmetrics.stringWidth(char, font, font_size) for char in text]
    room = math.radians(span) * inner
    hscale = min(1.0, room / (sum(widths) * 1.15))
    spacing = (room - sum(widths) * hscale) / len(text)
    group = Group()
    position = 0.0
    for char, width in zip(text, widths, strict=True):
        middle = position + (width * hscale + spacing) / 2
        position += width * hscale + spacing
        offset = math.degrees(middle / inner) - span / 2
        angle = 90 - offset if upper else 270 + offset
        x = centre[0] + baseline * math.cos(math.radians(angle))
        y = centre[1] + baseline * math.sin(math.radians(angle))
        if char.strip():
            group.add(_glyph(char, font, font_size, x, y, angle - 90 if upper else angle + 90, hscale))
    return group


def _star(cx: float, cy: float, outer: float) -> Polygon:
    inner = outer * 0.382
    points: list[float] = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.radians(90 + i * 36)
        points += [cx + r * math.cos(a), cy + r * math.sin(a)]
    return Polygon(points, fillColor=SEAL_RED, strokeColor=None)


def _fitted_line(text: str, x: float, y_middle: float, font_size: float, max_width: float) -> Group:
    """One horizontal line centred on (x, y_middle of its ink), squeezed to fit `max_width`."""
    font = font_for(text)
    bottom, top = _ink(font)
    hscale = min(1.0, max_width / pdfmetrics.stringWidth(text, font, font_size))
    return _glyph(text, font, font_size, x, y_middle - (bottom + top) / 2 * font_size, hscale=hscale)


def _round_seal(spec: SealImageSpec, size: float) -> Drawing:
    """The company seal, in the proportions of a 40 mm seal (ring 1.2 mm, star 14 mm across)."""
    centre = (size / 2, size / 2)
    ring = size * 0.03
    drawing = Drawing(size, size)
    drawing.add(Circle(*centre, size / 2 - ring / 2, strokeColor=SEAL_RED, strokeWidth=ring, fillColor=None))
    drawing.add(_star(*centre, size * 0.17))
    name = spec.organisation.strip()
    outer = size / 2 - ring - size * 0.025
    # Sized by its width in ems, so that Latin letters, narrower than Chinese characters, space alike.
    count = pdfmetrics.stringWidth(name, font_for(name), 1.0)
    span = min(250.0, 110.0 + 15.0 * count) if count >= 4 else 42.5 * count
    name_size = size * max(0.105, 0.165 - 0.004 * max(count - 4, 0))
    drawing.add(_arc_text(name, centre, outer, name_size, span))
    if spec.purpose.strip():
        drawing.add(_fitted_line(spec.purpose.strip(), centre[0], centre[1] - size * 0.25, size * 0.1, size * 0.56))
    serial = spec.serial.strip()
    if serial:
        serial_span = min(360.0 - span - 30.0, 7.5 * len(serial))
        drawing.add(_arc_text(serial, centre, outer, size * 0.06, serial_span, upper=False))
    return drawing


def _oval_seal(spec: SealImageSpec, width: float, height: float) -> Drawing:
    """The personal seal: an ellipse, the name across it, an optional smaller second line below."""
    ring = height * 0.04
    drawing = Drawing(width, height)
    drawing.add(Ellipse(width / 2, height / 2, (width - ring) / 2, (height - ring) / 2,
                        strokeColor=SEAL_RED, strokeWidth=ring, fillColor=None))
    a, b = width / 2 - ring * 2, height / 2 - ring * 2  # room inside the ring, with a margin

    def room(y_extent: float) -> float:
        return 2 * a * math.sqrt(max(0.0, 1 - (y_extent / b) ** 2))

    name, second = spec.organisation.strip(), spec.purpose.strip()
    if not second:
        drawing.add(_fitted_line(name, width / 2, height / 2, b * 1.05, room(b * 0.5) * 0.9))
        return drawing
    name_middle, second_middle = height / 2 + b * 0.25, height / 2 - b * 0.5
    drawing.add(_fitted_line(name, width / 2, name_middle, b * 0.8, room(b * 0.65) * 0.9))
    drawing.add(_fitted_line(second, width / 2, second_middle, b * 0.42, room(b * 0.7) * 0.9))
    return drawing


def _grid_order(name: str) -> list[str]:
    """A CJK name as Chinese seals read it: columns right to left, top to bottom; 印 completes odd names."""
    chars = list(name)
    if len(chars) % 2 and len(chars) > 1:
        chars.append("印")
    return chars


def _square_seal(spec: SealImageSpec, size: float) -> Drawing:
    """The legal-representative seal: a thick square border and the name filling it."""
    border = size * 0.06
    drawing = Drawing(size, size)
    drawing.add(Rect(border / 2, border / 2, size - border, size - border,
                     strokeColor=SEAL_RED, strokeWidth=border, fillColor=None))
    name = spec.organisation.strip()
    inside = size - 2 * border - 2 * size * 0.04
    if name.isascii():
        lines = name.split()
        step = inside / len(lines)
        for i, line in enumerate(lines):
            drawing.add(_fitted_line(line, size / 2, size / 2 + inside / 2 - step * (i + 0.5), step * 0.9, inside))
        return drawing
    chars = _grid_order(name)
    rows = 1 if len(chars) <= 2 else 2
    columns = math.ceil(len(chars) / rows)
    cell_w, cell_h = inside / columns, inside / rows
    font = font_for(name)
    bottom, top = _ink(font)
    for index, char in enumerate(chars):
        column, row = divmod(index, rows)
        x = size / 2 + inside / 2 - cell_w * (column + 0.5)
        y = size / 2 + inside / 2 - cell_h * (row + 0.5)
        font_size = cell_w * 0.94
        vscale = cell_h * 0.94 / ((top - bottom) * font_size)
        drawing.add(_glyph(char, font, font_size, x, y - (bottom + top) / 2 * font_size * vscale, vscale=vscale))
    return drawing


def _check(spec: SealImageSpec) -> None:
    name = spec.organisation.strip()
    if not name:
        raise SealImageError("a seal needs the organisation or owner name")
    if not 10 <= spec.size_mm <= 100 or (spec.height_mm is not None and not 5 <= spec.height_mm <= 100):
        raise SealImageError("a seal is 10 to 100 mm wide and 5 to 100 mm high")
    if spec.shape not in ("round", "oval", "square"):
        raise SealImageError(f"unknown seal shape {spec.shape!r}; use round, oval or square")
    if spec.shape == "round" and pdfmetrics.stringWidth(name, font_for(name), 1.0) > 24:
        raise SealImageError("the organisation name is too long for a round seal: at most 24 Chinese characters "
                             "or about 35 Latin capitals")
    if spec.shape == "square" and (spec.purpose.strip() or len(name) > (40 if name.isascii() else 8)):
        raise SealImageError("a square seal carries only the name, of at most 8 Chinese or 40 Latin characters")
    if spec.shape != "round" and spec.serial.strip():
        raise SealImageError("only a round seal carries a serial number")
    if len(spec.serial.strip()) > 24:
        raise SealImageError("the serial number fits at most 24 characters")
    for text in (name, spec.purpose, spec.serial):
        font_for(text)


def _drawing(spec: SealImageSpec) -> Drawing:
    _check(spec)
    size = spec.size_mm * MM
    if spec.shape == "oval":
        return _oval_seal(spec, size, (spec.height_mm or spec.size_mm * OVAL_ASPECT) * MM)
    if spec.shape == "square":
        return _square_seal(spec, size)
    return _round_seal(spec, size)


def render_seal_pdf(spec: SealImageSpec) -> bytes:
    """The seal as a one-page PDF whose page box is exactly the seal (an oval's is 40 × 26 by default).

    Raises SealImageError for a spec that cannot be drawn (no name, text too long, no CJK font).
    """
    return bytes(renderPDF.drawToString(_drawing(spec)))


def render_seal_svg(spec: SealImageSpec) -> str:
    """The seal as SVG, for previews in the web pages."""
    return str(renderSVG.drawToString(_drawing(spec)))


def render_seal_png(seal_pdf: bytes, dpi: int = 150, max_side: int | None = None) -> bytes:
    """A PNG preview of a one-page seal PDF, transparent where the seal has no ink.

    `dpi` is 36 to 600; with `max_side`, lowered so that the longer side is at most that many pixels. Raises
    SealImageError for anything but a readable one-page PDF of sensible size.
    """
    if not 36 <= dpi <= 600:
        raise SealImageError("the preview resolution must be 36 to 600 dpi")
    with PDFIUM_LOCK:
        try:
            return render_png(seal_pdf, dpi, max_side)
        except pypdfium2.PdfiumError as exc:
            raise SealImageError(f"the seal image is not a readable PDF ({exc})") from exc
        except ValueError as exc:
            raise SealImageError(str(exc)) from exc


def render_seal_preview(seal_pdf: bytes) -> bytes:
    """The preview the web pages show: 100 dpi, at most 600 pixels a side (what `trial_render` times)."""
    return render_seal_png(seal_pdf, PREVIEW_DPI, PREVIEW_MAX_SIDE)


def trial_render(seal_pdf: bytes, seconds: float) -> float:
    """Draw the seal's preview once in a child process limited to `seconds` of processor time and 1 GiB; the
    processor seconds the drawing took.

    Raises SealImageError when it takes longer, needs more memory, or cannot be drawn. pdfium cannot be
    interrupted, so this is how an upload proves that its previews will be quick before it is accepted.
    """
    command = [sys.executable, "-I", seal_render.__file__, str(PREVIEW_DPI), str(PREVIEW_MAX_SIDE), str(seconds)]
    too_slow = SealImageError(f"the seal image takes over {seconds:g} s to draw; simplify it")
    try:
        # The child's processor limit stops it; the wall-clock limit only guards against a child that waits.
        done = subprocess.run(command, input=seal_pdf, capture_output=True,
                              timeout=2 * seconds + CHILD_START_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise too_slow from exc
    if done.returncode == -signal.SIGXCPU or done.returncode == -signal.SIGKILL:
        raise too_slow
    if done.returncode == -signal.SIGABRT:  # pdfium's allocator aborts when the child's memory limit is reached
        raise SealImageError(f"the seal image needs more than {seal_render.CHILD_MEMORY_BYTES // 2**20} MiB to "
                             "draw; simplify it")
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise SealImageError(f"the seal image cannot be drawn ({reason[0]})")
    try:
        took = float(done.stdout)
    except ValueError as exc:
        raise SealImageError("the seal image cannot be drawn (no answer from the drawing process)") from exc
    if took > seconds:
        raise too_slow
    return took

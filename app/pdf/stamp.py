"""Stamping: a seal drawn onto a page as a vector Form XObject (pikepdf), before any signature."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pikepdf

from app.pdf.document import count_signatures, open_pdf
from app.pdf.errors import AlreadySignedError, InvalidPdfError, SealImageError

__all__ = ["Placement", "StampSpec", "placement_rect", "stamp_seal"]

MM = 72 / 25.4
Corner = Literal["bottom-left", "bottom-right", "top-left", "top-right"]


@dataclass(frozen=True)
class StampSpec:
    """Where the seal goes: page (negative counts from the end), offset in mm from a corner, size in mm.

    Positions are measured on the page as a reader sees it (after /Rotate and within the CropBox).
    """

    page: int = -1
    x_mm: float = 25.0
    y_mm: float = 25.0
    size_mm: float = 40.0
    corner: Corner = "bottom-right"


@dataclass(frozen=True)
class Placement:
    """The seal's square on the page, in default user space (x1, y1, x2, y2), and the page index."""

    page_index: int
    rect: tuple[float, float, float, float]


def _visible_to_user(page: pikepdf.Page) -> tuple[Callable[[float, float], tuple[float, float]], float, float]:
    """Map from visible coordinates (origin bottom-left as displayed) to user space, plus visible size."""
    llx, lly, urx, ury = (float(v) for v in page.cropbox)
    width, height = urx - llx, ury - lly
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    mappings: dict[int, Callable[[float, float], tuple[float, float]]] = {
        0: lambda u, v: (llx + u, lly + v),
        90: lambda u, v: (urx - v, lly + u),
        180: lambda u, v: (urx - u, ury - v),
        270: lambda u, v: (llx + v, ury - u),
    }
    if rotate not in mappings:
        raise InvalidPdfError(f"the page has an invalid /Rotate value {rotate}")
    visible = (height, width) if rotate in (90, 270) else (width, height)
    return mappings[rotate], visible[0], visible[1]


def _origin(spec: StampSpec, width: float, height: float) -> tuple[float, float]:
    size, x, y = spec.size_mm * MM, spec.x_mm * MM, spec.y_mm * MM
    left = x if spec.corner.endswith("left") else width - x - size
    bottom = y if spec.corner.startswith("bottom") else height - y - size
    return left, bottom


def _page_index(pdf: pikepdf.Pdf, page: int) -> int:
    count = len(pdf.pages)
    index = page if page >= 0 else count + page
    if not 0 <= index < count:
        raise InvalidPdfError(f"page {page} does not exist; the document has {count} pages")
    return index


def placement_rect(pdf: pikepdf.Pdf, spec: StampSpec, height_mm: float | None = None) -> Placement:
    """The user-space box the spec places: the seal's square, or a box of `height_mm` (a caption)."""
    index = _page_index(pdf, spec.page)
    to_user, width, height = _visible_to_user(pdf.pages[index])
    u, v = _origin(spec, width, height)
    size = spec.size_mm * MM
    corners = [to_user(u, v), to_user(u + size, v + (height_mm * MM if height_mm else size))]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return Placement(index, (min(xs), min(ys), max(xs), max(ys)))


def _seal_xobject(pdf: pikepdf.Pdf, seal_pdf: bytes) -> tuple[pikepdf.Object, float, float]:
    try:
        with pikepdf.open(io.BytesIO(seal_pdf)) as seal:
            page = seal.pages[0]
            x1, y1, x2, y2 = (float(v) for v in page.mediabox)
            return pdf.copy_foreign(page.as_form_xobject()), x2 - x1, y2 - y1
    except (pikepdf.PdfError, IndexError) as exc:
        raise SealImageError("the seal image is not a readable one-page PDF") from exc


def stamp_seal(data: bytes, seal_pdf: bytes, spec: StampSpec, max_pages: int = 2000) -> bytes:
    """Draw the seal image onto one page; returns the new PDF bytes.

    Raises AlreadySignedError for a signed PDF: changing its pages would break the signatures.
    """
    with open_pdf(data, max_pages) as pdf:
        if count_signatures(pdf):
            raise AlreadySignedError("the PDF is already signed; stamping it would invalidate its signatures")
        index = _page_index(pdf, spec.page)
        page = pdf.pages[index]
        xobject, seal_w, seal_h = _seal_xobject(pdf, seal_pdf)
        to_user, width, height = _visible_to_user(page)
        u, v = _origin(spec, width, height)
        size = spec.size_mm * MM
        # The matrix maps the seal's own square onto the visible square, so it stands upright
        # whatever the page's /Rotate.
        e, f = to_user(u, v)
        ax, ay = to_user(u + 1, v)
        cx, cy = to_user(u, v + 1)
        sx, sy = size / seal_w, size / seal_h
        matrix = ((ax - e) * sx, (ay - f) * sx, (cx - e) * sy, (cy - f) * sy, e, f)
        name = page.add_resource(xobject, pikepdf.Name.XObject, prefix="SealFlow")
        operands = " ".join(f"{n:.4f}" for n in matrix)
        page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
        page.contents_add(pikepdf.Stream(pdf, f"\nQ\nq {operands} cm {name} Do Q\n".encode()), prepend=False)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()

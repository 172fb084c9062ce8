"""Page geometry: what a reader sees (after /Rotate, within the CropBox) against PDF user space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pikepdf

from app.pdf.errors import InvalidPdfError

__all__ = ["MM", "Corner", "Frame", "frame_of", "page_indexes", "resolve_page"]

MM = 72 / 25.4
Corner = Literal["bottom-left", "bottom-right", "top-left", "top-right"]
Point = tuple[float, float]
Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Frame:
    """A page as displayed: width and height in points, origin bottom-left, and how that maps to user space."""

    width: float
    height: float
    rotate: int
    llx: float
    lly: float
    urx: float
    ury: float

    def to_user(self, u: float, v: float) -> Point:
        if self.rotate == 90:
            return self.urx - v, self.lly + u
        if self.rotate == 180:
            return self.urx - u, self.ury - v
        if self.rotate == 270:
            return self.llx + v, self.ury - u
        return self.llx + u, self.lly + v

    def to_visible(self, x: float, y: float) -> Point:
        if self.rotate == 90:
            return y - self.lly, self.urx - x
        if self.rotate == 180:
            return self.urx - x, self.ury - y
        if self.rotate == 270:
            return self.ury - y, x - self.llx
        return x - self.llx, y - self.lly

    def matrix(self, u: float, v: float, scale_x: float, scale_y: float) -> Matrix:
        """The `cm` that draws a form's unit square upright at visible (u, v), scaled to the given size."""
        e, f = self.to_user(u, v)
        ax, ay = self.to_user(u + 1, v)
        cx, cy = self.to_user(u, v + 1)
        return (ax - e) * scale_x, (ay - f) * scale_x, (cx - e) * scale_y, (cy - f) * scale_y, e, f

    def user_rect(self, u: float, v: float, width: float, height: float) -> tuple[float, float, float, float]:
        """A visible rectangle as a user-space box (x1, y1, x2, y2)."""
        (x1, y1), (x2, y2) = self.to_user(u, v), self.to_user(u + width, v + height)
        return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def frame_of(page: pikepdf.Page) -> Frame:
    try:
        llx, lly, urx, ury = sorted_box(page.cropbox)
        rotate = int(page.obj.get("/Rotate", 0)) % 360
    except (TypeError, ValueError, pikepdf.PdfError) as exc:
        raise InvalidPdfError("a page has an unreadable page box or /Rotate value") from exc
    if rotate not in (0, 90, 180, 270):
        raise InvalidPdfError(f"a page has an invalid /Rotate value {rotate}")
    width, height = urx - llx, ury - lly
    if width <= 0 or height <= 0:
        raise InvalidPdfError("a page has an empty page box")
    if rotate in (90, 270):
        width, height = height, width
    return Frame(width, height, rotate, llx, lly, urx, ury)


def sorted_box(box: pikepdf.Array) -> tuple[float, float, float, float]:
    """A PDF rectangle may list its corners in any order."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def resolve_page(page: int, count: int) -> int:
    """A 1-based page number, or negative from the end (-1 is the last), as a 0-based index."""
    index = page - 1 if page > 0 else count + page
    if page == 0 or not 0 <= index < count:
        raise InvalidPdfError(f"page {page} does not exist; the document has {count} pages")
    return index


def page_indexes(pages: str, count: int) -> list[int]:
    """Parse a page selection: "all", "odd", "even", or a list like "1-3,5,-1" (1-based, negatives from the end)."""
    text = pages.strip().lower()
    if text in ("", "all"):
        return list(range(count))
    if text in ("odd", "even"):
        return list(range(0 if text == "odd" else 1, count, 2))
    chosen: list[int] = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-") if not part.strip().startswith("-") else (part.strip(), "", "")
        try:
            first = resolve_page(int(start), count)
            last = resolve_page(int(end), count) if sep else first
        except ValueError as exc:
            raise InvalidPdfError(f"'{pages}' is not a page selection (use e.g. all, odd, 1-3,5 or -1)") from exc
        if last < first:
            raise InvalidPdfError(f"the page range '{part.strip()}' runs backwards")
        chosen += [i for i in range(first, last + 1) if i not in chosen]
    return chosen

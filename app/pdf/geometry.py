"""Page geometry: what a reader sees (after /Rotate, within the CropBox) against PDF user space."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pikepdf

from app.pdf.errors import InvalidPdfError
from app.pdf.structure import inherited

__all__ = ["MAX_PAGE_SIDE", "MIN_PAGE_SIDE", "MM", "Corner", "Frame", "frame_of", "page_indexes", "resolve_page"]

MM = 72 / 25.4
# ISO 32000-1 (annex C) describes pages from 3 to 14,400 units a side; ten times that still holds any poster or
# CAD sheet. Coordinates far beyond it only serve to make arithmetic overflow or loops run for ever.
MIN_PAGE_SIDE = 3.0
MAX_PAGE_SIDE = 144_000.0
MAX_COORDINATE = 10_000_000.0
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


def frame_of(page: pikepdf.Page, number: int | None = None) -> Frame:
    """The page as a reader sees it: its CropBox (within its MediaBox), turned by /Rotate. A box that is not four
    finite numbers, is smaller than MIN_PAGE_SIDE or larger than MAX_PAGE_SIDE, or a /Rotate that is no multiple
    of 90, is refused: readers disagree about such pages, and drawing on them loops or lands nowhere."""
    which = f"page {number}" if number is not None else "a page"
    media = _box(inherited(page.obj, "/MediaBox"), which, "MediaBox") or (0.0, 0.0, 612.0, 792.0)  # as qpdf does
    crop = _box(inherited(page.obj, "/CropBox"), which, "CropBox") or media
    llx, lly, urx, ury = max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3])
    width, height = urx - llx, ury - lly
    if width < MIN_PAGE_SIDE or height < MIN_PAGE_SIDE:
        raise InvalidPdfError(f"{which} is empty or smaller than {MIN_PAGE_SIDE:g} pt (its CropBox and MediaBox "
                              "hardly overlap)")
    if width > MAX_PAGE_SIDE or height > MAX_PAGE_SIDE:
        raise InvalidPdfError(f"{which} is larger than {MAX_PAGE_SIDE / MM / 1000:.0f} m, the largest page SealFlow "
                              "accepts")
    rotate = _rotation(inherited(page.obj, "/Rotate"), which)
    if rotate in (90, 270):
        width, height = height, width
    return Frame(width, height, rotate, llx, lly, urx, ury)


def _box(value: object, which: str, name: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        if not isinstance(value, pikepdf.Array) or len(value) != 4:
            raise ValueError
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidPdfError(f"{which}'s /{name} is not a rectangle of four numbers") from exc
    if not all(math.isfinite(n) and abs(n) <= MAX_COORDINATE for n in (x1, y1, x2, y2)):
        raise InvalidPdfError(f"{which}'s /{name} lies beyond {MAX_COORDINATE:g} pt, where no page is")
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _rotation(value: object, which: str) -> int:
    if value is None:
        return 0
    try:
        rotate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidPdfError(f"{which}'s /Rotate is not a number") from exc
    if not math.isfinite(rotate) or not rotate.is_integer() or rotate % 90:
        raise InvalidPdfError(f"{which}'s /Rotate is not a multiple of 90 degrees")
    return int(rotate) % 360


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

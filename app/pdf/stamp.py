"""Stamping: seals, riding seals, watermark and QR code drawn onto pages as vector Form XObjects (pikepdf).

Everything is measured on the page as a reader sees it (after /Rotate, within the CropBox), and
drawn upright there. Stamping happens before any signature: a signed PDF is refused.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pikepdf

from app.pdf.budget import MAX_PAGE_DECODED
from app.pdf.document import (
    ContentCheck,
    check_content,
    check_document,
    check_signable_open,
    count_signatures,
    open_pdf,
    reading,
)
from app.pdf.errors import AlreadySignedError, InvalidPdfError, SealImageError, library_message
from app.pdf.evidence import attach_evidence
from app.pdf.geometry import MM, Corner, Frame, frame_of, page_indexes, resolve_page
from app.pdf.keyword import find_keyword
from app.pdf.overlays import QrSpec, WatermarkSpec, qr_drawing, watermark_pdf

__all__ = [
    "EveryPageSpec",
    "KeywordSpec",
    "Placement",
    "RidingSpec",
    "StampPlan",
    "StampSpec",
    "locate",
    "place",
    "placement_rect",
    "stamp",
    "stamp_seal",
]

@dataclass(frozen=True)
class StampSpec:
    """A seal on one page: page number (1-based; negative counts from the end), offset in mm from a corner
    to the seal's nearest edges, and the seal's width in mm (its height follows the image)."""

    page: int = -1
    x_mm: float = 25.0
    y_mm: float = 25.0
    size_mm: float = 40.0
    corner: Corner = "bottom-right"


@dataclass(frozen=True)
class KeywordSpec:
    """A seal centred on a keyword in the page text, e.g. 甲方（盖章）: its first, last or every occurrence."""

    keyword: str
    size_mm: float = 40.0
    occurrence: Literal["first", "last", "all"] = "last"
    pages: str = "all"


@dataclass(frozen=True)
class EveryPageSpec:
    """The same image on every selected page ("all", "odd", "1-3,5" …): page-by-page seals or signatures.
    `image_pdf` replaces the plan's seal (e.g. a leader's signature image)."""

    pages: str = "all"
    x_mm: float = 20.0
    y_mm: float = 20.0
    size_mm: float = 30.0
    corner: Corner = "bottom-right"
    image_pdf: bytes = b""


@dataclass(frozen=True)
class RidingSpec:
    """A riding seal (骑缝章): the seal cut into vertical slices, slice i on the outer edge of page i.

    Long documents get one riding seal per group of at most `max_slices` pages, so slices stay legible.
    `edge` "alternate" puts even pages' slices on the left edge, for documents printed on both sides.
    """

    size_mm: float = 40.0
    y_mm: float | None = None
    edge: Literal["right", "left", "alternate"] = "right"
    max_slices: int = 10
    pages: str = "all"


@dataclass(frozen=True)
class StampPlan:
    """Everything to draw in one pass. Order on the page: watermark, then seals, riding slices, QR."""

    seal_pdf: bytes = b""
    seals: tuple[StampSpec | KeywordSpec, ...] = ()
    every_page: EveryPageSpec | None = None
    riding: RidingSpec | None = None
    watermark: WatermarkSpec | None = None
    qr: QrSpec | None = None
    # The approval evidence embedded as a JSON file (app/pdf/evidence.py), so that the signature covers it.
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class Placement:
    """A box on a page, in default user space (x1, y1, x2, y2), and the page's 0-based index."""

    page_index: int
    rect: tuple[float, float, float, float]


@dataclass
class _Form:
    """A Form XObject copied into the target document, with its own width and height in points."""

    xobject: pikepdf.Object
    width: float
    height: float


@dataclass
class _Drawing:
    """Forms to draw on each page, collected so that every page is rewritten once."""

    items: dict[int, list[tuple[str, pikepdf.Object, tuple[float, ...]]]] = field(default_factory=dict)
    frames: dict[int, Frame] = field(default_factory=dict)
    pages: list[pikepdf.Page] = field(default_factory=list)

    def frame(self, pdf: pikepdf.Pdf, index: int) -> Frame:
        """The page's geometry, read once per stamping even when several drawings use it."""
        if index not in self.frames:
            if not self.pages:
                self.pages = list(pdf.pages)  # pdf.pages[i] costs 70 µs each
            self.frames[index] = frame_of(self.pages[index], index + 1)
        return self.frames[index]

    def place(self, index: int, prefix: str, form: pikepdf.Object, matrix: tuple[float, ...]) -> None:
        self.items.setdefault(index, []).append((prefix, form, matrix))


# Marked as a watermark artifact (ISO 32000-1, 14.8.2.2), so that readers leave it out of copied text.
_ARTIFACT = {"SealFlowWatermark": ("/Artifact <</Type /Pagination /Subtype /Watermark>> BDC ", " EMC")}


def _import_form(pdf: pikepdf.Pdf, one_page_pdf: bytes, what: str) -> _Form:
    try:
        with pikepdf.open(io.BytesIO(one_page_pdf)) as source:
            page = source.pages[0]
            x1, y1, x2, y2 = (float(v) for v in page.mediabox)
            return _Form(pdf.copy_foreign(page.as_form_xobject()), abs(x2 - x1), abs(y2 - y1))
    except (pikepdf.PdfError, IndexError, ValueError) as exc:
        raise SealImageError(f"the {what} is not a readable one-page PDF") from exc


def _corner_origin(corner: Corner, x: float, y: float, w: float, h: float, frame: Frame) -> tuple[float, float]:
    left = x if corner.endswith("left") else frame.width - x - w
    bottom = y if corner.startswith("bottom") else frame.height - y - h
    return left, bottom


def _fitted(form: _Form, size_mm: float) -> tuple[float, float]:
    width = size_mm * MM
    return width, width * form.height / form.width


def locate(data: bytes, pdf: pikepdf.Pdf, spec: StampSpec | KeywordSpec, aspect: float = 1.0,
           max_decoded: int = MAX_PAGE_DECODED) -> list[Placement]:
    """Where a seal of the given height/width aspect goes: user-space boxes, one per page it lands on. The pages
    it looks at pass `check_document` first (the keyword search decodes their text with pdfium)."""
    check_document(pdf, max_decoded, _looked_at(spec, len(pdf.pages)))
    with reading():
        return _locate(data, pdf, spec, aspect)


def _looked_at(spec: StampSpec | KeywordSpec, count: int) -> list[int]:
    """The pages (0-based) placing the spec reads."""
    return [resolve_page(spec.page, count)] if isinstance(spec, StampSpec) else page_indexes(spec.pages, count)


def _locate(data: bytes, pdf: pikepdf.Pdf, spec: StampSpec | KeywordSpec, aspect: float) -> list[Placement]:
    width = spec.size_mm * MM
    height = width * aspect
    if isinstance(spec, StampSpec):
        index = resolve_page(spec.page, len(pdf.pages))
        frame = frame_of(pdf.pages[index], index + 1)
        u, v = _corner_origin(spec.corner, spec.x_mm * MM, spec.y_mm * MM, width, height, frame)
        _check_fits("the seal", frame, index, (u, v, width, height),
                    f"{spec.x_mm:g} × {spec.y_mm:g} mm from the {spec.corner} corner")
        return [Placement(index, frame.user_rect(u, v, width, height))]
    hits = find_keyword(data, spec.keyword, page_indexes(spec.pages, len(pdf.pages)))
    if not hits:
        raise InvalidPdfError(f"the keyword '{spec.keyword}' is not in the document's text, so the seal "
                              "cannot be placed on it")
    chosen = {"first": hits[:1], "last": hits[-1:], "all": hits}[spec.occurrence]
    placements = []
    for hit in chosen:
        frame = frame_of(pdf.pages[hit.page_index], hit.page_index + 1)
        _check_fits("the seal", frame, hit.page_index, (0, 0, width, height), "any position")
        x1, y1, x2, y2 = hit.box
        cu, cv = frame.to_visible((x1 + x2) / 2, (y1 + y2) / 2)
        # Centred on the keyword, but wholly on the page: a keyword near the edge pulls the seal inwards.
        u = min(max(cu - width / 2, 0.0), frame.width - width)
        v = min(max(cv - height / 2, 0.0), frame.height - height)
        placements.append(Placement(hit.page_index, frame.user_rect(u, v, width, height)))
    return placements


def _check_fits(what: str, frame: Frame, index: int, box: tuple[float, float, float, float], where: str) -> None:
    """Refuse a drawing that would not lie wholly on the visible page (half a seal is no seal)."""
    u, v, width, height = box
    slack = 0.5  # points: rounding in mm-to-point conversions
    if u < -slack or v < -slack or u + width > frame.width + slack or v + height > frame.height + slack:
        raise InvalidPdfError(f"{what} ({width / MM:.0f} × {height / MM:.0f} mm) does not fit on page {index + 1} "
                              f"({frame.width / MM:.0f} × {frame.height / MM:.0f} mm) at {where}")


def place(data: bytes, wanted: Sequence[tuple[StampSpec | KeywordSpec, float]],
          max_pages: int = 2000, max_decoded: int = MAX_PAGE_DECODED, signable: bool = False) -> list[Placement]:
    """Where each seal goes on the document given as bytes: (placement spec, the seal's height/width aspect) in,
    the first box each lands on out. The PDF's errors leave as PdfError (a page or keyword that is not there, a
    seal that does not fit). With `signable`, the document passes `check_signable` first, in the same reading."""
    with open_pdf(data, max_pages, max_decoded) as pdf:
        if signable:
            check_signable_open(data, pdf, max_decoded)
        count = len(pdf.pages)
        pages = sorted({i for spec, _ in wanted for i in _looked_at(spec, count)})
        check_content(data, pdf, max_decoded, pages)
        with reading():
            return [_locate(data, pdf, spec, aspect)[0] for spec, aspect in wanted]


def placement_rect(pdf: pikepdf.Pdf, spec: StampSpec, height_mm: float | None = None) -> Placement:
    """The user-space box the spec places: the seal's square, or a box `height_mm` high (a caption)."""
    aspect = height_mm / spec.size_mm if height_mm else 1.0
    return locate(b"", pdf, spec, aspect)[0]


def _place_seals(pdf: pikepdf.Pdf, data: bytes, plan: StampPlan, seal: _Form, drawing: _Drawing) -> None:
    for spec in plan.seals:
        for placement in _locate(data, pdf, spec, seal.height / seal.width):
            frame = drawing.frame(pdf, placement.page_index)
            width, height = _fitted(seal, spec.size_mm)
            u, v = frame.to_visible(*_visible_corner(frame, placement.rect))
            drawing.place(placement.page_index, "SealFlowSeal", seal.xobject,
                          frame.matrix(u, v, width / seal.width, height / seal.height))


def _visible_corner(frame: Frame, rect: tuple[float, float, float, float]) -> tuple[float, float]:
    """The user-space corner of a box that a reader sees as its bottom-left."""
    x1, y1, x2, y2 = rect
    corners = [(x1, y1), (x1, y2), (x2, y1), (x2, y2)]
    return min(corners, key=lambda c: frame.to_visible(*c))


def _place_every_page(pdf: pikepdf.Pdf, spec: EveryPageSpec, image: _Form, drawing: _Drawing) -> None:
    width, height = _fitted(image, spec.size_mm)
    for index in page_indexes(spec.pages, len(pdf.pages)):
        frame = drawing.frame(pdf, index)
        u, v = _corner_origin(spec.corner, spec.x_mm * MM, spec.y_mm * MM, width, height, frame)
        _check_fits("the page seal", frame, index, (u, v, width, height),
                    f"{spec.x_mm:g} × {spec.y_mm:g} mm from the {spec.corner} corner")
        drawing.place(index, "SealFlowPageSeal", image.xobject,
                      frame.matrix(u, v, width / image.width, height / image.height))


def riding_groups(count: int, max_slices: int) -> list[int]:
    """Split `count` pages into as few groups of at most `max_slices` as possible, sizes as even as can be."""
    if max_slices < 2:
        raise InvalidPdfError("a riding seal needs at least 2 slices per group")
    groups = math.ceil(count / max_slices)
    base, extra = divmod(count, groups)
    return [base + (1 if g < extra else 0) for g in range(groups)]


def _slice_form(pdf: pikepdf.Pdf, seal: _Form, left: float, width: float) -> pikepdf.Object:
    """A form showing only the vertical strip [left, left + width] of the seal, in the seal's units."""
    content = f"q {left:.4f} 0 {width:.4f} {seal.height:.4f} re W n /S Do Q".encode()
    return pdf.make_stream(content, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                           BBox=[left, 0, left + width, seal.height],
                           Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(S=seal.xobject)))


def _place_riding(pdf: pikepdf.Pdf, spec: RidingSpec, seal: _Form, drawing: _Drawing) -> None:
    indexes = page_indexes(spec.pages, len(pdf.pages))
    if len(indexes) < 2:
        raise InvalidPdfError("a riding seal needs at least two pages")
    width, height = _fitted(seal, spec.size_mm)
    scale = width / seal.width
    start = 0
    slices: dict[tuple[int, int], pikepdf.Object] = {}  # groups of the same size show the same slices
    for group in riding_groups(len(indexes), spec.max_slices):
        strip = seal.width / group
        for position, index in enumerate(indexes[start:start + group]):
            frame = drawing.frame(pdf, index)
            on_left = spec.edge == "left" or (spec.edge == "alternate" and index % 2 == 1)
            # The whole seal is positioned so that only slice `position` falls on the page, flush with the edge.
            u = -position * strip * scale if on_left else frame.width - (position + 1) * strip * scale
            v = spec.y_mm * MM if spec.y_mm is not None else (frame.height - height) / 2
            _check_fits("the riding seal", frame, index, (0, v, width, height), "the page edge")
            if (group, position) not in slices:
                slices[group, position] = _slice_form(pdf, seal, position * strip, strip)
            drawing.place(index, "SealFlowRiding", slices[group, position], frame.matrix(u, v, scale, scale))
        start += group


def _place_watermark(pdf: pikepdf.Pdf, spec: WatermarkSpec, drawing: _Drawing) -> None:
    forms: dict[tuple[int, int], _Form] = {}  # one drawing per page size, shared by the pages of that size
    for index in page_indexes(spec.pages, len(pdf.pages)):
        frame = drawing.frame(pdf, index)
        key = (round(frame.width), round(frame.height))
        if key not in forms:
            forms[key] = _import_form(pdf, watermark_pdf(spec, frame.width, frame.height), "watermark")
        form = forms[key]
        drawing.place(index, "SealFlowWatermark", form.xobject,
                      frame.matrix(0, 0, frame.width / form.width, frame.height / form.height))


def _place_qr(pdf: pikepdf.Pdf, spec: QrSpec, drawing: _Drawing) -> None:
    qr = qr_drawing(spec)
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    form = pdf.make_stream(qr.ops, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                           BBox=[0, 0, qr.width, qr.height],
                           Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))
    index = resolve_page(spec.page, len(pdf.pages))
    frame = drawing.frame(pdf, index)
    u, v = _corner_origin(spec.corner, spec.x_mm * MM, spec.y_mm * MM, qr.width, qr.height, frame)
    _check_fits("the QR code", frame, index, (u, v, qr.width, qr.height),
                f"{spec.x_mm:g} × {spec.y_mm:g} mm from the {spec.corner} corner")
    drawing.place(index, "SealFlowQR", form, frame.matrix(u, v, 1, 1))


def _apply(pdf: pikepdf.Pdf, drawing: _Drawing) -> None:
    pages = drawing.pages or list(pdf.pages)
    # Content streams are shared by the pages whose bytes are the same (their names resolve in each page's own
    # resources): a 1,000-page riding seal writes a dozen streams, not 2,000.
    opening = pdf.make_stream(b"q\n")
    closings: dict[bytes, pikepdf.Stream] = {}
    for index, items in drawing.items.items():
        page = pages[index]
        body = []
        for prefix, form, matrix in items:
            name = _add_form(page, prefix, form)
            begin, end = _ARTIFACT.get(prefix, ("", ""))
            body.append(f"{begin}q {' '.join(f'{n:.4f}' for n in matrix)} cm {name} Do Q{end}")
        closing = ("\nQ\n" + "\n".join(body) + "\n").encode()
        if closing not in closings:
            closings[closing] = pdf.make_stream(closing)
        # Wrap the original content in q … Q so that its graphics state cannot leak into ours.
        page.contents_add(opening, prepend=True)
        page.contents_add(closings[closing], prepend=False)


def _add_form(page: pikepdf.Page, prefix: str, form: pikepdf.Object) -> str:
    """Name the form in the page's /XObject resources: `/prefix`, or `/prefix2` … when that name is taken by
    something else in any of the page's resource categories (as pikepdf's add_resource avoids clashes)."""
    resources = page.resources
    if "/XObject" not in resources:
        resources.XObject = pikepdf.Dictionary()
    xobjects = resources.XObject
    if not isinstance(xobjects, pikepdf.Dictionary):
        raise InvalidPdfError("a page's /Resources /XObject is not a dictionary")
    taken = [d for d in resources.values() if isinstance(d, pikepdf.Dictionary)]
    for number in range(1, len(xobjects) + 2):
        name = f"/{prefix}" if number == 1 else f"/{prefix}{number}"
        if name in xobjects and xobjects[name].is_indirect and xobjects[name].objgen == form.objgen:
            return name  # a resource dictionary several pages share already names it
        if not any(name in d for d in taken):
            xobjects[name] = form
            return name
    raise AssertionError("unreachable: one of len + 1 names is free")


def stamp(data: bytes, plan: StampPlan, max_pages: int = 2000, max_decoded: int = MAX_PAGE_DECODED,
          checked: ContentCheck | None = None) -> bytes:
    """Draw everything the plan asks for; returns the new PDF. The input is never changed in place.

    The document passes `check_document` on every page first (once per content: `check_content`; `checked` is the
    ContentCheck `inspect_pdf` gave for these bytes, if the caller kept it). Raises AlreadySignedError for a signed
    PDF: changing its pages would break the signatures.
    """
    with open_pdf(data, max_pages, max_decoded) as pdf:
        check_content(data, pdf, max_decoded, checked=checked)
        with reading("the PDF cannot be stamped"):
            if count_signatures(pdf):
                raise AlreadySignedError("the PDF is already signed; stamping it would invalidate its signatures")
            _draw(pdf, data, plan)
            if plan.evidence is not None:
                attach_evidence(pdf, plan.evidence)
            return _save(pdf)


def _draw(pdf: pikepdf.Pdf, data: bytes, plan: StampPlan) -> None:
    drawing = _Drawing()
    if plan.watermark:
        _place_watermark(pdf, plan.watermark, drawing)
    needs_seal = plan.seals or plan.riding or (plan.every_page and not plan.every_page.image_pdf)
    seal = _import_form(pdf, plan.seal_pdf, "seal image") if needs_seal else None
    if plan.seals and seal:
        _place_seals(pdf, data, plan, seal, drawing)
    if plan.every_page:
        image = _import_form(pdf, plan.every_page.image_pdf, "page image") if plan.every_page.image_pdf else seal
        if image is None:
            raise SealImageError("the page seal needs an image")
        _place_every_page(pdf, plan.every_page, image, drawing)
    if plan.riding and seal:
        _place_riding(pdf, plan.riding, seal, drawing)
    if plan.qr:
        _place_qr(pdf, plan.qr, drawing)
    _apply(pdf, drawing)


def _save(pdf: pikepdf.Pdf) -> bytes:
    """Write the stamped PDF with a trailer pyHanko can append a signature to."""
    if not isinstance(pdf.trailer.get("/Size"), int):
        # A trailer qpdf rebuilt while repairing has no /Size, and qpdf writes /Size only when there is one;
        # pyHanko cannot append a signature to a file without it. qpdf writes the true value.
        pdf.trailer.Size = 0
    for key, kind in (("/Info", pikepdf.Dictionary), ("/ID", pikepdf.Array)):
        if key in pdf.trailer and not isinstance(pdf.trailer[key], kind):
            del pdf.trailer[key]  # meaningless as it is; qpdf writes a fresh /ID
    out = io.BytesIO()
    try:
        pdf.save(out)
    except pikepdf.PikepdfError as exc:
        raise InvalidPdfError(f"the PDF cannot be written ({library_message(exc)})") from exc
    return out.getvalue()


def stamp_seal(data: bytes, seal_pdf: bytes, spec: StampSpec, max_pages: int = 2000,
               max_decoded: int = MAX_PAGE_DECODED) -> bytes:
    """Draw the seal image at one position: `stamp` with a plan of one seal."""
    return stamp(data, StampPlan(seal_pdf=seal_pdf, seals=(spec,)), max_pages, max_decoded)

"""Uploaded SVG seal images: parsed safely, measured while parsed, and drawn with svglib only when small enough.

svglib's cost grows with the elements it draws (about 0.4 ms each, more when nested deeply), the numbers in path
data and the style rules (each matched against every element): all are counted here first, `<use>` copies
included, against `SealUploadLimits`. Fonts are not looked up at all (`_KnownFonts`).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass

from lxml import etree
from reportlab.graphics import renderPDF
from svglib.fonts import DEFAULT_FONT_NAME, STANDARD_FONT_NAMES, FontMap
from svglib.svglib import SvgRenderer

from app.pdf.errors import SealImageError
from app.pdf.fonts import font_for
from app.pdf.geometry import MM
from app.pdf.seal_limits import SealUploadLimits, check_total_pixels, image_pixels

__all__ = ["svg_to_pdf"]

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
DATA_IMAGE = re.compile(r"data:image/(png|jpe?g);base64,")
MAX_STYLE_RULES = 1000  # parsing and compiling 13,000 took 1.2 s
TEXT_ELEMENTS = {"text", "tspan", "textPath"}
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True)
class _Cost:
    """What an element and everything under it (its `<use>` copies included) asks svglib to draw."""

    elements: int = 0
    numbers: int = 0
    chars: int = 0
    pixels: int = 0
    height: int = 0  # nesting levels, this element's included

    def __add__(self, other: _Cost) -> _Cost:
        return _Cost(self.elements + other.elements, self.numbers + other.numbers, self.chars + other.chars,
                     self.pixels + other.pixels, max(self.height, other.height))


class _KnownFonts(FontMap):
    """svglib's font map without discovery: a family other than the standard PDF fonts and their usual names is
    drawn in SealFlow's CJK font (Helvetica without it). svglib would run fc-match and load a font file for each
    unknown family, weight and style (70 ms each, 32 of them for 8 families), and register each in reportlab for
    good: an upload naming many fonts would be slow, and many uploads would fill the process's memory."""

    def find_font(self, font_name: str, weight: str = "normal", style: str = "normal") -> tuple[str, bool]:
        internal = self.build_internal_name(self._family_index.get(font_name.lower(), font_name), weight, style)
        if internal in STANDARD_FONT_NAMES:
            return internal, True
        known = self._map.get(internal)
        if known is not None:
            return str(known["rlgFont"]), bool(known["exact"])
        return _fallback_font(), False


def _fallback_font() -> str:
    try:
        return font_for("印")
    except SealImageError:  # no CJK font installed
        return DEFAULT_FONT_NAME


def _parse_svg(data: bytes) -> etree._Element:
    """Parse without DTDs, entities or network; refuse documents that declare any."""
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise SealImageError("the SVG declares a DOCTYPE or entities; save it without them")
    # huge_tree=False keeps libxml2's own limits (256 levels, 10 MB text nodes) in force.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise SealImageError(f"the file is neither PNG, PDF nor well-formed SVG ({exc})") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SealImageError("the SVG declares a DOCTYPE or entities; save it without them")
    if etree.QName(root).localname != "svg":
        raise SealImageError("the XML file is not an SVG image")
    return root


class _Measure:
    """Counts an SVG's cost element by element, following `<use>`, refusing as soon as a limit is passed."""

    def __init__(self, root: etree._Element, limits: SealUploadLimits) -> None:
        self.limits = limits
        self.ids = {element.get("id"): element for element in root.iter(etree.Element) if element.get("id")}
        self.done: dict[etree._Element, _Cost] = {}
        self.open: set[etree._Element] = set()

    def cost(self, element: etree._Element, depth: int) -> _Cost:
        """The cost of `element` drawn `depth` levels deep (1: the root)."""
        if depth > self.limits.max_depth:
            raise SealImageError(f"the SVG nests elements over {self.limits.max_depth} deep (a <use> counts as "
                                 "nesting what it copies); flatten its groups")
        known = self.done.get(element)
        if known is None:
            if element in self.open:
                raise SealImageError("the SVG has a <use> that refers to itself")
            self.open.add(element)
            known = self._own(element)
            for child in element.iterchildren(etree.Element):
                known += self.cost(child, depth + 1)
                self._check(known)
            target = self._use_target(element)
            if target is not None:
                known += self.cost(target, depth + 1)
            known = _Cost(known.elements, known.numbers, known.chars, known.pixels, known.height + 1)
            self._check(known)
            self.open.discard(element)
            self.done[element] = known
        if depth + known.height - 1 > self.limits.max_depth:
            raise SealImageError(f"the SVG nests elements over {self.limits.max_depth} deep (a <use> counts as "
                                 "nesting what it copies); flatten its groups")
        return known

    def _check(self, cost: _Cost) -> None:
        limits = self.limits
        if cost.elements > limits.max_elements:
            raise SealImageError(f"the SVG has over {limits.max_elements} elements (a <use> counts as what it "
                                 "copies); simplify it")
        if cost.numbers > limits.max_path_numbers:
            raise SealImageError(f"the SVG's paths have over {limits.max_path_numbers} coordinates; simplify it")
        if cost.chars > limits.max_text_chars:
            raise SealImageError(f"the SVG has over {limits.max_text_chars} characters of text")
        check_total_pixels(cost.pixels, limits)

    def _own(self, element: etree._Element) -> _Cost:
        numbers = sum(len(NUMBER.findall(str(element.get(name, "")))) for name in ("d", "points"))
        parent = element.getparent()
        chars = len(element.text or "") if etree.QName(element).localname in TEXT_ELEMENTS else 0
        if parent is not None and etree.QName(parent).localname in TEXT_ELEMENTS:
            chars += len(element.tail or "")
        return _Cost(1, numbers, chars, self._image_pixels(element), 0)

    def _use_target(self, element: etree._Element) -> etree._Element | None:
        if etree.QName(element).localname != "use":
            return None
        href = str(element.get(XLINK_HREF) or element.get("href") or "")
        return self.ids.get(href[1:]) if href.startswith("#") else None

    def _image_pixels(self, element: etree._Element) -> int:
        """Only references inside the file: embedded PNG/JPEG images, sized by their headers, and #fragments."""
        pixels = 0
        for key, value in element.attrib.items():
            if not str(key).endswith("href") or str(value).startswith("#"):
                continue
            match = DATA_IMAGE.match(str(value))
            if not match:
                raise SealImageError("the SVG refers to another file, or embeds an image other than PNG or "
                                     "JPEG; embed PNG or JPEG images in it instead")
            # svglib decodes with base64.decodebytes and opens with Pillow: the same bytes, limited to the
            # format the data URI names (a GIF or TIFF labelled PNG is refused).
            try:
                image = base64.decodebytes(str(value)[match.end():].encode("ascii"))
            except (ValueError, UnicodeEncodeError) as exc:
                raise SealImageError("an image embedded in the SVG is not valid base64") from exc
            formats = ("PNG",) if match.group(1) == "png" else ("JPEG",)
            pixels += image_pixels(image, formats, self.limits, "an image in the SVG")
        return pixels


def _check_styles(root: etree._Element, elements: int, limits: SealUploadLimits) -> None:
    """At most MAX_STYLE_RULES, and rules times elements within the limit (svglib matches each to each)."""
    rules = sum((element.text or "").count("{") for element in root.iter("{http://www.w3.org/2000/svg}style",
                                                                         "style"))
    if rules > MAX_STYLE_RULES:
        raise SealImageError(f"the SVG has over {MAX_STYLE_RULES} style rules; simplify its CSS")
    if rules * elements > limits.max_style_matches:
        raise SealImageError(f"the SVG has {rules} style rules for {elements} elements; their product is over "
                             f"{limits.max_style_matches}: simplify its CSS")


def svg_to_pdf(data: bytes, limits: SealUploadLimits) -> bytes:
    """An uploaded SVG as a one-page PDF of its size; refused with SealImageError when over a limit."""
    root = _parse_svg(data)
    cost = _Measure(root, limits).cost(root, 1)
    _check_styles(root, cost.elements, limits)
    # A file object, not a path, as the source: svglib then resolves no relative file names at all.
    try:
        drawing = SvgRenderer(io.BytesIO(data), font_map=_KnownFonts()).render(root)
        if drawing is None or not (0 < drawing.width <= limits.max_side_mm * MM
                                   and 0 < drawing.height <= limits.max_side_mm * MM):
            raise SealImageError(f"the SVG has no usable size (give it width and height, or a viewBox, of at "
                                 f"most {limits.max_side_mm:g} mm)")
        return bytes(renderPDF.drawToString(drawing))
    except SealImageError:
        raise
    except Exception as exc:  # svglib and reportlab raise assorted errors on malformed drawings
        raise SealImageError(f"the SVG cannot be drawn ({exc.__class__.__name__}: {exc})") from exc

"""Seal images uploaded by a seal administrator: PNG, SVG or PDF, told apart by content, each turned into a
one-page PDF whose page box is exactly the image. Inputs are bounded before anything decodes them."""

from __future__ import annotations

import base64
import io
import re
import struct

import pikepdf
from lxml import etree
from PIL import Image
from reportlab.graphics import renderPDF
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from svglib.svglib import SvgRenderer

from app.pdf.errors import SealImageError
from app.pdf.geometry import MM
from app.pdf.seal_image import MAX_IMAGE_PIXELS

__all__ = ["MAX_UPLOAD_BYTES", "load_seal_image"]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_seal_image(data: bytes) -> bytes:
    """An uploaded PNG, SVG or PDF (told apart by content) as a one-page PDF whose page box is the image.

    Refused with SealImageError: files over 5 MiB, PNGs over 4000 px a side, SVGs with a DOCTYPE or
    references to other files, PDFs that are encrypted or not exactly one page, anything else.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise SealImageError(f"the seal image is {len(data) / 2**20:.1f} MiB; the limit is 5 MiB")
    if data.startswith(PNG_SIGNATURE):
        return _png_to_pdf(data)
    if b"%PDF-" in data[:1024]:
        return _pdf_to_seal_pdf(data)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _svg_to_pdf(data)
    raise SealImageError("the seal image must be a PNG, SVG or PDF file")


def _check_png_size(data: bytes) -> None:
    """Read the size from the PNG header before decoding, so a decompression bomb costs nothing."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise SealImageError("the PNG file is damaged (no image header)")
    width, height = struct.unpack(">II", data[16:24])
    if width > MAX_IMAGE_PIXELS or height > MAX_IMAGE_PIXELS:
        raise SealImageError(f"the PNG is {width} × {height} pixels; the limit is {MAX_IMAGE_PIXELS} a side")
    if not width or not height:
        raise SealImageError("the PNG has no pixels")


def _png_to_pdf(data: bytes) -> bytes:
    _check_png_size(data)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGBA")
            dpi = opened.info.get("dpi", (300, 300))[0]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise SealImageError(f"the PNG file cannot be read ({exc})") from exc
    # The page's physical size only matters until stamping scales it; 300 dpi unless the file says.
    dpi = dpi if 72 <= dpi <= 2400 else 300
    width, height = image.width * 72 / dpi, image.height * 72 / dpi
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height))
    canvas.drawImage(ImageReader(image), 0, 0, width, height, mask="auto")  # alpha becomes a soft mask
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _parse_svg(data: bytes) -> etree._Element:
    """Parse without DTDs, entities or network; refuse documents that declare any."""
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise SealImageError("the SVG declares a DOCTYPE or entities; save it without them")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
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


def _check_svg_references(root: etree._Element) -> None:
    """Only references inside the file: embedded PNG/JPEG images (size-checked) and #fragments."""
    for element in root.iter():
        for key, value in element.attrib.items():
            if not str(key).endswith("href") or str(value).startswith("#"):
                continue
            match = re.match(r"data:image/(png|jpe?g);base64,", str(value))
            if not match:
                raise SealImageError("the SVG refers to another file; embed images in it instead")
            try:
                with Image.open(io.BytesIO(base64.b64decode(str(value)[match.end():]))) as image:
                    width, height = image.size
            except (OSError, ValueError) as exc:
                raise SealImageError("an image embedded in the SVG cannot be read") from exc
            if width > MAX_IMAGE_PIXELS or height > MAX_IMAGE_PIXELS:
                raise SealImageError(f"an image in the SVG is {width} × {height} pixels; "
                                     f"the limit is {MAX_IMAGE_PIXELS} a side")


def _svg_to_pdf(data: bytes) -> bytes:
    root = _parse_svg(data)
    _check_svg_references(root)
    # A file object, not a path, as the source: svglib then resolves no relative file names at all.
    try:
        drawing = SvgRenderer(io.BytesIO(data)).render(root)
        if drawing is None or not (0 < drawing.width <= 1000 * MM and 0 < drawing.height <= 1000 * MM):
            raise SealImageError("the SVG has no usable size (give it width and height, or a viewBox)")
        return bytes(renderPDF.drawToString(drawing))
    except SealImageError:
        raise
    except Exception as exc:  # svglib and reportlab raise assorted errors on malformed drawings
        raise SealImageError(f"the SVG cannot be drawn ({exc.__class__.__name__}: {exc})") from exc


def _pdf_to_seal_pdf(data: bytes) -> bytes:
    """The single page of an uploaded PDF, as a fresh page at the origin of its visible size, unrotated."""
    try:
        with pikepdf.open(io.BytesIO(data)) as source:
            if source.is_encrypted:
                raise SealImageError("the seal PDF is encrypted; upload it without protection")
            if len(source.pages) != 1:
                raise SealImageError(f"the seal PDF has {len(source.pages)} pages; it must have exactly one")
            page = source.pages[0]
            x1, y1, x2, y2 = (float(v) for v in page.cropbox)
            width, height = abs(x2 - x1), abs(y2 - y1)
            if int(page.obj.get("/Rotate", 0)) % 180:
                width, height = height, width
            if not (width > 0 and height > 0):
                raise SealImageError("the seal PDF's page has no area")
            with pikepdf.new() as seal:
                seal.add_blank_page(page_size=(width, height))
                # add_overlay copies only the page's content and resources (no annotations or scripts),
                # applying its /Rotate and CropBox.
                seal.pages[0].add_overlay(seal.copy_foreign(page.as_form_xobject()),
                                          pikepdf.Rectangle(0, 0, width, height))
                out = io.BytesIO()
                seal.save(out)
                return out.getvalue()
    except pikepdf.PasswordError as exc:
        raise SealImageError("the seal PDF is protected by a password; upload it without protection") from exc
    except pikepdf.PdfError as exc:
        raise SealImageError(f"the seal PDF is damaged and cannot be read ({exc})") from exc

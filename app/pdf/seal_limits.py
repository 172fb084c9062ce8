"""The bounds of an uploaded seal image, and the checks that the PNG, SVG and PDF readers share."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image

from app.pdf.errors import SealImageError
from app.pdf.geometry import MM
from app.pdf.seal_image import MAX_IMAGE_PIXELS

__all__ = [
    "MAX_UPLOAD_BYTES",
    "SealUploadLimits",
    "check_image_size",
    "check_seal_size",
    "check_total_pixels",
    "image_pixels",
    "png_size",
]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class SealUploadLimits:
    """How much an uploaded seal image may hold. The defaults keep an upload under about 3 s and its preview
    under `render_seconds`; SealFlow's settings (SEALFLOW_SEAL_*) override the first eight.

    `max_bytes`: the file. `max_side_px` and `max_pixels`: each raster image's sides, and all raster images
    together (a PNG upload, images embedded in an SVG, image objects of a PDF). `max_elements`: SVG elements,
    each `<use>` counting as the copy it makes; `max_depth`: their nesting (through `<use>` too).
    `max_objects`: a PDF's objects; `max_decoded_bytes`: its streams decoded, all together; `max_operations`:
    the drawing operations of its page, a form counting each time it is drawn. `render_seconds`: processor
    seconds for drawing the preview once. `max_side_mm`: the seal's longer side (a PNG's is fitted to it).
    """

    max_bytes: int = MAX_UPLOAD_BYTES
    max_side_px: int = MAX_IMAGE_PIXELS
    max_elements: int = 2000
    max_depth: int = 12
    max_objects: int = 2000
    max_decoded_bytes: int = 16 * 1024 * 1024
    max_operations: int = 50_000
    render_seconds: float = 1.0
    max_pixels: int = 16_000_000
    max_side_mm: float = 1000.0
    max_path_numbers: int = 50_000  # numbers in SVG path data and point lists
    max_text_chars: int = 10_000  # SVG text
    max_style_matches: int = 40_000  # SVG <style> rules times elements: each rule is matched against each

    def __post_init__(self) -> None:
        # The SVG measure and svglib recurse once a level: deeper nesting would overflow Python's stack.
        if not 1 <= self.max_depth <= 100:
            raise ValueError(f"an SVG seal's nesting limit must be 1 to 100, not {self.max_depth}")


def check_image_size(width: int, height: int, limits: SealUploadLimits, what: str = "the PNG") -> int:
    """Refuse a raster image over the limit a side; its pixels."""
    if width > limits.max_side_px or height > limits.max_side_px:
        raise SealImageError(f"{what} is {width} × {height} pixels; the limit is {limits.max_side_px} a side")
    if width <= 0 or height <= 0:
        raise SealImageError(f"{what} has no pixels")
    return width * height


def check_total_pixels(pixels: int, limits: SealUploadLimits) -> None:
    """Refuse raster images that are, together, over the limit."""
    if pixels > limits.max_pixels:
        raise SealImageError(f"the seal's images have {pixels / 1e6:.1f} million pixels together; the limit is "
                             f"{limits.max_pixels / 1e6:g} million")


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height in a PNG's header (IHDR), read before anything is decoded."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise SealImageError("the PNG file is damaged (no image header)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def image_pixels(data: bytes, formats: tuple[str, ...], limits: SealUploadLimits, what: str) -> int:
    """The pixels of a raster image of one of `formats`, sized by its header alone (a PNG's IHDR, or what Pillow
    reads before `load`: a JPEG's SOF, a GIF's or WebP's header); refused over the limit a side."""
    if data.startswith(PNG_SIGNATURE):
        width, height = png_size(data)
    if "PNG" not in formats or not data.startswith(PNG_SIGNATURE):
        try:
            with Image.open(io.BytesIO(data), formats=formats) as image:
                width, height = image.size
        except Image.DecompressionBombError as exc:  # Pillow's own limit, far over ours
            raise SealImageError(f"{what} claims over {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} million "
                                 f"pixels; the limit is {limits.max_side_px} a side") from exc
        except (OSError, ValueError, SyntaxError, struct.error) as exc:
            raise SealImageError(f"{what} cannot be read as {' or '.join(formats)}") from exc
    return check_image_size(width, height, limits, what)


def check_seal_size(width: float, height: float, limits: SealUploadLimits) -> None:
    """Refuse a seal of no area, or over the longest side allowed (in points)."""
    if not (width > 0 and height > 0):
        raise SealImageError("the seal image has no area")
    if max(width, height) > limits.max_side_mm * MM + 0.01:  # PDF writers round to thousandths of a point
        raise SealImageError(f"the seal image is {width / MM:.0f} × {height / MM:.0f} mm; the limit is "
                             f"{limits.max_side_mm:g} mm a side")

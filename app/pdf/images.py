"""What an image costs a reader: the pixels it declares (what a renderer allocates, whatever its data), and the
inline images (BI … ID … EI) found in content, read without a PDF parser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf

from app.pdf.filters import filter_names

__all__ = ["InlineImage", "components", "declared_size", "inline_images"]

INLINE_START = re.compile(rb"(?<![^\s\[\]()<>{}/%])BI(?=[\s/%])")
INLINE_DATA = re.compile(rb"(?<=[\s\]>)])ID\s")
COMPONENTS = {"/DeviceGray": 1, "/CalGray": 1, "/G": 1, "/DeviceRGB": 3, "/CalRGB": 3, "/RGB": 3, "/Lab": 3,
              "/DeviceCMYK": 4, "/CMYK": 4, "/Indexed": 1, "/I": 1, "/Separation": 1, "/Pattern": 1}


@dataclass(frozen=True)
class InlineImage:
    """An inline image: the bytes its pixels declare, its filters, and its encoded data (to the end of the
    content for filters that find their own end; a view, so that many images cost no copies)."""

    declared: int
    filters: list[str]
    data: bytes | memoryview


def components(colorspace: object) -> int:
    """Colour components of a colour space (an image's /ColorSpace, or an inline image's /CS token)."""
    if isinstance(colorspace, pikepdf.Array) and len(colorspace) > 0:
        family = str(colorspace[0])
        if family == "/ICCBased" and len(colorspace) > 1 and isinstance(colorspace[1], pikepdf.Stream):
            n = colorspace[1].get("/N", 4)
            return n if isinstance(n, int) and 1 <= n <= 32 else 4
        if family == "/DeviceN" and len(colorspace) > 1 and isinstance(colorspace[1], pikepdf.Array):
            return max(1, min(len(colorspace[1]), 32))
        return COMPONENTS.get(family, 4)
    return COMPONENTS.get(str(colorspace), 4) if colorspace is not None else 4  # unknown: at most CMYK's 4


def declared_size(width: object, height: object, bits: object, components: int, mask: bool) -> int:
    """Bytes of the pixels an image declares; 0 when the size is no positive integer (readers skip it)."""
    try:
        w, h = int(str(width)), int(str(height))
        bpc = 1 if mask else int(str(bits)) if bits is not None else 8
    except ValueError:
        return 0
    if w <= 0 or h <= 0 or bpc not in (1, 2, 4, 8, 16):
        return 0
    return (w * (1 if mask else components) * bpc + 7) // 8 * h


def _inline_dict(text: bytes) -> dict[str, list[str]]:
    """The keys of an inline image's dictionary and their value tokens (an array flattened; a dictionary kept
    whole only as its tokens)."""
    tokens = re.findall(rb"/[^\s/\[\]()<>{}%]*|<<|>>|[\[\]]|[^\s/\[\]()<>{}%]+", text)
    entries: dict[str, list[str]] = {}
    index = 0
    while index + 1 < len(tokens):
        key = tokens[index].decode("latin-1")
        index += 1
        value: list[str] = []
        depth = 0
        while index < len(tokens):
            token = tokens[index].decode("latin-1")
            index += 1
            depth += token in ("[", "<<")
            depth -= token in ("]", ">>")
            if token not in ("[", "]", "<<", ">>"):
                value.append(token)
            if depth <= 0:
                break
        entries[key] = value
    return entries


def _inline_data(data: bytes, start: int, filters: list[str]) -> bytes | memoryview:
    """An inline image's encoded data: up to its end-of-data marker for the ASCII filters, else the rest of the
    content (the filter finds its own end), as a view so that many images cost no copies."""
    marker = {"/ASCIIHexDecode": b">", "/ASCII85Decode": b"~>"}.get(filters[0])
    if marker is not None:
        end = data.find(marker, start)
        return data[start:end if end >= 0 else len(data)]
    return memoryview(data)[start:]


def inline_images(data: bytes) -> Iterator[InlineImage]:
    """Every inline image in decoded content. Scanning resumes where each one's data starts, so a `BI` inside
    image data may be taken for another image: counted twice is safe, missed is not."""
    if b"BI" not in data or b"ID" not in data:
        return
    position = 0
    while (start := INLINE_START.search(data, position)) is not None:
        marker = INLINE_DATA.search(data, start.end())
        if marker is None:
            return
        entries = _inline_dict(data[start.end():marker.start()])
        position = marker.end()
        declared = declared_size(_first(entries, "/W", "/Width"), _first(entries, "/H", "/Height"),
                                 _first(entries, "/BPC", "/BitsPerComponent"),
                                 components(_first(entries, "/CS", "/ColorSpace")),
                                 _first(entries, "/IM", "/ImageMask") == "true")
        filters = filter_names(entries.get("/F") or entries.get("/Filter"))
        yield InlineImage(declared, filters, _inline_data(data, position, filters) if filters else b"")


def _first(entries: dict[str, list[str]], short: str, long: str) -> str | None:
    values = entries.get(short) or entries.get(long)
    return values[0] if values else None

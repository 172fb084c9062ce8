"""Decoding stream data with a hard bound: no filter ever produces more than the bytes it is allowed.

qpdf and pdfium decode a stream whole; a few hundred kilobytes of Flate can inflate to gigabytes. Here every
filter a reader would apply is run by SealFlow's own bounded decoder (zlib with max_length; LZW, RunLength and
the ASCII filters in Python), stopping as soon as the output passes the limit. Image codecs (DCT, JPX, JBIG2,
CCITT) are never run: an image costs what it declares (width x height x components), which is what a renderer
allocates. A filter nobody can decode is never expanded by anyone, so it costs its raw size.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pikepdf

__all__ = ["DECODABLE", "IMAGE_CODECS", "Decoded", "decode", "filter_names"]

IMAGE_CODECS = frozenset({"/DCTDecode", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode"})
# Inline images may use abbreviated filter names (ISO 32000-1, table 94).
ABBREVIATIONS = {"/AHx": "/ASCIIHexDecode", "/A85": "/ASCII85Decode", "/LZW": "/LZWDecode", "/Fl": "/FlateDecode",
                 "/RL": "/RunLengthDecode", "/CCF": "/CCITTFaxDecode", "/DCT": "/DCTDecode"}
CHUNK = 1 << 20
INPUT_CHUNK = 1 << 16


@dataclass(frozen=True)
class Decoded:
    """What decoding found: the data (None when it passed the limit), and whether the data was damaged (then
    `data` is what came out before the damage, which is what a reader shows)."""

    data: bytes | None
    damaged: bool = False


class _Damaged(Exception):
    """A filter met data it cannot decode; `partial` is its output up to there."""

    def __init__(self, partial: bytes) -> None:
        super().__init__("damaged data")
        self.partial = partial


def filter_names(value: object) -> list[str]:
    """A /Filter value (a name or an array of names) as a list of full filter names."""
    items = list(value) if isinstance(value, (list, tuple, pikepdf.Array)) else [value] if value is not None else []
    return [ABBREVIATIONS.get(str(item), str(item)) for item in items]


def decode(raw: bytes | memoryview, filters: list[str], limit: int, early_change: int = 1) -> Decoded:
    """Apply the filters in order, each bounded by `limit` bytes of output; stop before an image codec.

    Damaged data decodes as far as it can (readers do the same), and says so. A filter that no reader knows
    ends decoding: its input is what remains.
    """
    data: bytes | memoryview = raw
    damaged = False
    for index, name in enumerate(filters):
        if name in IMAGE_CODECS:
            # The codec's input: counted when an earlier filter produced it, free when it is the file's own bytes.
            return Decoded(bytes(data) if index else b"", damaged) if len(data) <= limit else Decoded(None)
        step = _DECODERS.get(name)
        if step is None:
            break  # no reader decodes further
        try:
            decoded = step(data, limit, early_change) if name == "/LZWDecode" else step(data, limit)
        except _Damaged as exc:
            decoded, damaged = exc.partial, True
        if decoded is None:
            return Decoded(None)
        data = decoded
    return Decoded(bytes(data), damaged) if len(data) <= limit else Decoded(None)


def _inflate(data: bytes | memoryview, limit: int) -> bytes | None:
    # Input goes in 64 KiB slices and output comes out 1 MiB at a time, so neither zlib's unconsumed_tail nor its
    # unused_data ever copies much (inline image data is a view into the rest of its content stream).
    inflater = zlib.decompressobj()
    view = memoryview(data)
    parts: list[bytes] = []
    size = 0
    try:
        for start in range(0, len(view) + 1, INPUT_CHUNK):
            pending: bytes | memoryview = view[start:start + INPUT_CHUNK]
            while not inflater.eof:
                chunk = inflater.decompress(pending, CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    return None
                parts.append(chunk)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise _Damaged(b"".join(parts)) from exc
    return b"".join(parts)


def _lzw(data: bytes | memoryview, limit: int, early_change: int = 1) -> bytes | None:
    """LZW as PDF uses it (ISO 32000-1, 7.4.4): codes of 9 to 12 bits, 256 clears, 257 ends."""
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    out = bytearray()
    previous: bytes | None = None
    width, buffer, bits = 9, 0, 0
    for byte in data:
        buffer, bits = (buffer << 8) | byte, bits + 8
        while bits >= width:
            bits -= width
            code = buffer >> bits
            buffer &= (1 << bits) - 1
            if code == 256:
                del table[258:]
                width, previous = 9, None
                continue
            if code == 257:
                return bytes(out)
            if code < len(table):
                entry = table[code]
            elif code == len(table) and previous is not None:
                entry = previous + previous[:1]
            else:
                raise _Damaged(bytes(out))
            out += entry
            if len(out) > limit:
                return None
            if previous is not None and len(table) < 4096:
                table.append(previous + entry[:1])
            previous = entry
            if len(table) + early_change >= (1 << width) and width < 12:
                width += 1
    return bytes(out)


def _run_length(data: bytes | memoryview, limit: int) -> bytes | None:
    data = bytes(data)
    out = bytearray()
    position = 0
    while position < len(data):
        length = data[position]
        if length == 128:
            break
        if length < 128:
            out += data[position + 1:position + 2 + length]
            position += length + 2
        else:
            # A stretch of repeat runs (two bytes each, up to 128 out) is measured before it is expanded.
            stretch = _REPEATS.match(data, position)
            if stretch is None:
                break  # a last header without its byte
            pairs = stretch.group(0)
            if len(out) + 257 * (len(pairs) // 2) - sum(pairs[::2]) > limit:
                return None
            out += b"".join(bytes([pairs[i + 1]]) * (257 - pairs[i]) for i in range(0, len(pairs), 2))
            position += len(pairs)
        if len(out) > limit:
            return None
    return bytes(out)


_REPEATS = re.compile(rb"(?:[\x81-\xff][\x00-\xff])+", re.DOTALL)


def _ascii_hex(data: bytes | memoryview, limit: int) -> bytes | None:
    digits = re.sub(rb"[^0-9A-Fa-f]", b"", bytes(data).split(b">", 1)[0])
    if len(digits) % 2:
        digits += b"0"
    return binascii.unhexlify(digits)  # half its input: never above the limit its input was within


def _ascii85(data: bytes | memoryview, limit: int) -> bytes | None:
    text = re.sub(rb"\s", b"", bytes(data).split(b"~>", 1)[0]).removeprefix(b"<~")
    # Four bytes out per five in, and four per "z": known before decoding.
    if len(text) * 4 // 5 + text.count(b"z") * 4 > limit:
        return None
    try:  # qpdf's decoder: Python's is pure Python, 20 times slower on every page reportlab writes
        with pikepdf.new() as scratch:
            return bytes(scratch.make_stream(text + b"~>", Filter=pikepdf.Name.ASCII85Decode).read_bytes())
    except pikepdf.PdfError:
        pass  # damaged: Python's decoder finds how far it reads
    try:
        return base64.a85decode(text)
    except ValueError as exc:
        # Damaged: the longest clean run of whole groups, as far as a reader would get.
        clean = re.match(rb"(?:z|[!-u]{5})*", text)
        raise _Damaged(base64.a85decode(clean.group(0)) if clean else b"") from exc


_DECODERS: dict[str, Callable[..., bytes | None]] = {
    "/FlateDecode": _inflate,
    "/LZWDecode": _lzw,
    "/RunLengthDecode": _run_length,
    "/ASCIIHexDecode": _ascii_hex,
    "/ASCII85Decode": _ascii85,
}
DECODABLE = frozenset(_DECODERS)

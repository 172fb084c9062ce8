"""Uploaded PDF seal images: bounded before qpdf decodes anything, then the one page copied as a fresh page.

A PDF of a few kilobytes can hold gigabytes: a Flate stream inflates about a thousandfold (qpdf decodes
cross-reference and object streams as it opens a file), and a form drawn twenty times by a form drawn twenty
times… multiplies the drawing. So, in this order: the file's compressed streams are inflated with a cap on their
total, without parsing the PDF; then, with pikepdf, its objects are counted, the page tree walked (exactly one
page), the page's size checked, every stream the page uses decoded incrementally with a cap, its images' pixels
counted, and its drawing operations counted with each form as often as it is drawn.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zlib
from collections.abc import Iterator

import pikepdf

from app.pdf.errors import SealImageError
from app.pdf.filters import IMAGE_CODECS, filter_names
from app.pdf.seal_limits import (
    SealUploadLimits,
    check_image_size,
    check_seal_size,
    check_total_pixels,
    image_pixels,
)

__all__ = ["pdf_to_seal_pdf"]

STREAM_START = re.compile(rb"stream(?:\r\n|\n|\r)")
REFERENCE = re.compile(rb"\d+\s+\d+\s+R(?![A-Za-z])")
HEX_TEXT = re.compile(rb"[0-9A-Fa-f\s]*>")
ESCAPED_NAME = re.compile(rb"/[^\s/<>\[\]()%{}#]*#[^\s/<>\[\]()%{}]*")
REFUSED_FILTERS = {b"/LZWDecode", b"/RunLengthDecode"}  # their expansion is not capped here: refused
MAX_PAGE_TREE_NODES = 1000
MAX_FORM_NESTING = 12
CHUNK = 64 * 1024


class _Budget:
    """Decoded bytes left to spend; decoding past it is refused."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise SealImageError(f"the seal PDF's streams decode to over {self.limit / 2**20:g} MiB; "
                                 "the seal image is too large")


def _inflate(data: bytes, budget: _Budget) -> bytes:
    """Flate-decode incrementally, never past the budget; raises zlib.error on data that is not zlib."""
    inflater = zlib.decompressobj()
    out = bytearray()
    pending = data
    while not inflater.eof:
        piece = inflater.decompress(pending, max(1, min(CHUNK, budget.left + 1)))
        budget.spend(len(piece))
        out += piece
        pending = inflater.unconsumed_tail
        if not piece and not pending:
            break  # the input is used up (a truncated stream: decoders keep what it gave)
    return bytes(out)


def _ascii_decode(data: bytes, hexadecimal: bool) -> bytes:
    """ASCIIHex or ASCII85 (at most four bytes out for each in: bounded by the file's size)."""
    text = re.sub(rb"\s+", b"", data)
    if hexadecimal:
        text = text.split(b">", 1)[0]
        return binascii.unhexlify(text + b"0" * (len(text) % 2))
    text = text.split(b"~>", 1)[0].removeprefix(b"<~")
    return base64.a85decode(text)


def _as_filtered(region: bytes) -> bytes:
    """A stream's raw data, undone of an ASCII encoding when it looks like one (they may wrap Flate)."""
    stripped = region.strip()
    if stripped.endswith(b"~>"):
        return _ascii_decode(stripped, False)
    if stripped.endswith(b">") and HEX_TEXT.fullmatch(stripped):
        return _ascii_decode(stripped, True)
    return region


def _check_references(data: bytes, limits: SealUploadLimits) -> None:
    """At most 50 references an object on average: qpdf parses an array of 800,000 in 2 s."""
    references = len(REFERENCE.findall(data))
    if references > 50 * limits.max_objects:
        raise SealImageError(f"the seal PDF holds {references} references between objects; the limit is "
                             f"{50 * limits.max_objects}")


def _check_raw(data: bytes, limits: SealUploadLimits) -> None:
    """Before pikepdf opens the file: its compressed streams inflate to at most `max_decoded_bytes` together,
    and it names no LZW or RunLength filter (escaped names too), which would escape that count."""
    for match in ESCAPED_NAME.finditer(data):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes.fromhex(m.group(1).decode()), match.group())
        if name in REFUSED_FILTERS:
            raise SealImageError("the seal PDF uses LZW or RunLength compression; save it again with Flate")
    if re.search(rb"/(LZWDecode|RunLengthDecode)\b", data):
        raise SealImageError("the seal PDF uses LZW or RunLength compression; save it again with Flate")
    _check_references(data, limits)
    budget = _Budget(limits.max_decoded_bytes)
    for start in STREAM_START.finditer(data):
        end = data.find(b"endstream", start.end())
        region = data[start.end():end if end >= 0 else len(data)]
        try:
            _inflate(_as_filtered(region), budget)
        except (zlib.error, ValueError):
            continue  # not compressed: decoded, it is no larger than the file


def _filters(stream: pikepdf.Object) -> list[str]:
    return filter_names(stream.get("/Filter"))


def _decode(stream: pikepdf.Object, budget: _Budget) -> bytes | None:
    """The stream's data through its filters, with a cap; None for image codecs (sized by their pixels)."""
    data = stream.read_raw_bytes()  # as long as the file holds: bounded by the upload's size
    for name in _filters(stream):
        if name in IMAGE_CODECS:
            return None
        try:
            if name == "/FlateDecode":
                data = _inflate(data, budget)
                continue
            if name in ("/ASCIIHexDecode", "/ASCII85Decode"):
                data = _ascii_decode(data, name == "/ASCIIHexDecode")
                budget.spend(len(data))
                continue
        except (zlib.error, ValueError) as exc:
            raise SealImageError(f"the seal PDF is damaged (a stream cannot be decoded: {exc})") from exc
        raise SealImageError(f"the seal PDF uses the {name[1:]} filter, which SealFlow does not read; save it "
                             "again with Flate compression")
    return data


def _open_checks(source: pikepdf.Pdf, limits: SealUploadLimits, budget: _Budget) -> None:
    """Objects counted, and object streams decoded within the budget, before any object in them is read."""
    xref = source.get_xref_table()
    if len(xref) > limits.max_objects:
        raise SealImageError(f"the seal PDF has {len(xref)} objects; the limit is {limits.max_objects}")
    # Compressed objects are parsed as a whole stream at a time: they may hold no more than an uncompressed file.
    packed = _Budget(limits.max_bytes)
    numbers = {entry.obj_stream_number for entry in xref.values() if entry.type == 2}
    for number in sorted(n for n in numbers if n is not None):
        object_stream = source.get_object(number, 0)
        if not isinstance(object_stream, pikepdf.Stream):
            raise SealImageError("the seal PDF is damaged (an object stream is missing)")
        objects = _decode(object_stream, budget) or b""
        packed.spend(len(objects))
        _check_references(objects, limits)


def _only_page(source: pikepdf.Pdf) -> pikepdf.Object:
    """The page of a one-page PDF, found by walking its page tree with bounds (qpdf's own page list would copy
    a page listed a million times a million times)."""
    leaves: list[pikepdf.Object] = []
    stack = [(source.Root.get("/Pages"), 0)]
    seen: set[tuple[int, int]] = set()
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, pikepdf.Dictionary) or depth > 64:
            raise SealImageError("the seal PDF's page tree is damaged or too deep; it must have one page")
        if node.objgen in seen and node.objgen != (0, 0):
            raise SealImageError("the seal PDF's page tree is damaged (a page is listed twice)")
        seen.add(node.objgen)
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            if len(kids) + len(seen) > MAX_PAGE_TREE_NODES:
                raise SealImageError(f"the seal PDF lists over {MAX_PAGE_TREE_NODES} pages; it must have one")
            stack.extend((kid, depth + 1) for kid in reversed(list(kids)))
        else:
            leaves.append(node)
    if len(leaves) != 1:
        raise SealImageError(f"the seal PDF has {len(leaves)} pages; it must have exactly one")
    return leaves[0]


def _inherited(page: pikepdf.Object, key: str) -> pikepdf.Object | None:
    node: pikepdf.Object | None = page
    for _ in range(64):  # _only_page found the page within 64 levels
        if node is None or not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


def _reachable_streams(roots: list[pikepdf.Object], limits: SealUploadLimits) -> Iterator[pikepdf.Object]:
    """Every stream reachable from `roots` (what copying the page takes along), each once; refused past the
    object limit, or past 50 values an object on average (a million-number array is no seal)."""
    seen: set[tuple[int, int]] = set()
    stack = list(roots)
    values = 0
    while stack:
        obj = stack.pop()
        values += 1
        if values > 50 * limits.max_objects:
            raise SealImageError(f"the seal PDF's page has over {50 * limits.max_objects} values; simplify it")
        if not isinstance(obj, pikepdf.Object):
            continue
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
            if len(seen) > limits.max_objects:
                raise SealImageError(f"the seal PDF's page uses over {limits.max_objects} objects; the limit is "
                                     f"{limits.max_objects}")
        if isinstance(obj, pikepdf.Stream):
            yield obj
            stack.extend(obj.stream_dict.values())
        elif isinstance(obj, pikepdf.Dictionary):
            stack.extend(value for key, value in obj.items() if key != "/Parent")
        elif isinstance(obj, pikepdf.Array):
            stack.extend(obj)


def _check_streams(page: pikepdf.Object, limits: SealUploadLimits, budget: _Budget) -> None:
    """The page's streams decode within the budget; its images are within the pixel limits."""
    roots = [value for value in (page.get("/Contents"), _inherited(page, "/Resources")) if value is not None]
    pixels = 0
    for stream in _reachable_streams(roots, limits):
        _decode(stream, budget)
        filters = _filters(stream)
        if filters in (["/DCTDecode"], ["/JPXDecode"]):
            # pdfium sizes these by their own header, not by /Width and /Height: that is checked too.
            formats = ("JPEG",) if filters == ["/DCTDecode"] else ("JPEG2000",)
            image_pixels(stream.read_raw_bytes(), formats, limits, "an image in the seal PDF")
        if stream.get("/Subtype") == "/Image":
            width, height = stream.get("/Width", 0), stream.get("/Height", 0)
            if not isinstance(width, int) or not isinstance(height, int):
                raise SealImageError("the seal PDF is damaged (an image has no width or height)")
            pixels += check_image_size(width, height, limits, "an image in the seal PDF")
            check_total_pixels(pixels, limits)


class _Operations:
    """Counts the page's drawing operations, each form's as many times as it is drawn."""

    def __init__(self, limits: SealUploadLimits) -> None:
        self.limits = limits
        self.limit = limits.max_operations
        self.forms: dict[tuple[int, int], int] = {}
        self.open: set[tuple[int, int]] = set()

    def count(self, content: pikepdf.Object, resources: pikepdf.Object | None, nesting: int = 0) -> int:
        if nesting > MAX_FORM_NESTING:
            raise SealImageError(f"the seal PDF nests forms over {MAX_FORM_NESTING} deep")
        total = 0
        try:
            instructions = pikepdf.parse_content_stream(content)
        except pikepdf.PdfError as exc:
            raise SealImageError(f"the seal PDF's drawing cannot be read ({exc})") from exc
        for instruction in instructions:
            total += 1
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                image = instruction.iimage
                check_image_size(image.width, image.height, self.limits, "an image in the seal PDF")
            elif str(instruction.operator) == "Do":
                total += self._form(instruction.operands[0] if len(instruction.operands) else None, resources, nesting)
            if total > self.limit:
                raise SealImageError(f"the seal PDF draws over {self.limit} operations (a form counts each time "
                                     "it is drawn); simplify it")
        return total

    def _form(self, name: object, resources: pikepdf.Object | None, nesting: int) -> int:
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary) or not isinstance(name, pikepdf.Name):
            return 0
        form = xobjects.get(name)
        if not isinstance(form, pikepdf.Stream) or form.get("/Subtype") != "/Form":
            return 0
        key = form.objgen
        if key in self.open:
            raise SealImageError("the seal PDF has a form that draws itself")
        if key not in self.forms:
            self.open.add(key)
            # A form without resources uses those of whatever draws it (allowed before PDF 1.2).
            self.forms[key] = self.count(form, form.get("/Resources", resources), nesting + 1)
            self.open.discard(key)
        return self.forms[key]


def pdf_to_seal_pdf(data: bytes, limits: SealUploadLimits) -> bytes:
    """The single page of an uploaded PDF, as a fresh page at the origin of its visible size, unrotated."""
    _check_raw(data, limits)
    try:
        # inherit_page_attributes would walk the page tree before _only_page can bound it.
        with pikepdf.open(io.BytesIO(data), inherit_page_attributes=False) as source:
            if source.is_encrypted:
                raise SealImageError("the seal PDF is encrypted; upload it without protection")
            budget = _Budget(limits.max_decoded_bytes)
            _open_checks(source, limits, budget)
            page = pikepdf.Page(_only_page(source))
            x1, y1, x2, y2 = (float(v) for v in page.cropbox)
            width, height = abs(x2 - x1), abs(y2 - y1)
            if int(page.obj.get("/Rotate", 0)) % 180:
                width, height = height, width
            check_seal_size(width, height, limits)
            _check_streams(page.obj, limits, budget)
            _Operations(limits).count(page.obj, _inherited(page.obj, "/Resources"))
            return _copy_page(page, width, height)
    except pikepdf.PasswordError as exc:
        raise SealImageError("the seal PDF is protected by a password; upload it without protection") from exc
    except pikepdf.PdfError as exc:
        raise SealImageError(f"the seal PDF is damaged and cannot be read ({exc})") from exc


def _copy_page(page: pikepdf.Page, width: float, height: float) -> bytes:
    with pikepdf.new() as seal:
        seal.add_blank_page(page_size=(width, height))
        # add_overlay copies only the page's content and resources (no annotations or scripts),
        # applying its /Rotate and CropBox.
        seal.pages[0].add_overlay(seal.copy_foreign(page.as_form_xobject()), pikepdf.Rectangle(0, 0, width, height))
        out = io.BytesIO()
        seal.save(out)
        return out.getvalue()

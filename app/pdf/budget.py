"""The decoded-size budget of a page: one bound on everything a reader decodes to show or search it.

Inspection, the keyword search and stamping all call `check_pages` before pdfium or qpdf touch a page. A page
costs what reading it decodes:

* its content streams, and every inline image in them (declared pixels, plus whatever its filters inflate to);
* every form XObject it draws, as often as it draws it, recursively (pdfium parses a form at each `Do`), through
  tiling patterns, soft masks and annotation appearances too;
* every image, font program, CMap, colour profile and other stream it uses, once (readers cache those); an image
  at its declared width x height x components, so a JPEG is never decoded to be measured.

Streams are decoded by app/pdf/filters.py, never further than the budget, and images sized by app/pdf/images.py;
forms that draw each other in a loop, or nest deeper than MAX_NESTING, are refused outright. A form's cost is
computed once per document, so a form drawing another twice, thirty levels deep, costs thirty computations, not
2**30.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pikepdf

from app.pdf.errors import InvalidPdfError, library_message
from app.pdf.filters import DECODABLE, decode, filter_names
from app.pdf.images import components, declared_size, inline_images
from app.pdf.structure import inherited

__all__ = ["MAX_NESTING", "MAX_PAGE_DECODED", "DecodeBudget", "check_object_streams", "check_pages"]

MAX_PAGE_DECODED = 64 * 2**20  # decoded bytes one page may cost (SEALFLOW_MAX_PAGE_DECODED_MB)
MAX_NESTING = 32  # forms within forms, resources within resources
# The checker itself decodes at most this many pages' budgets across a document (each stream once), so a bomb
# spread thinly over many pages costs seconds, not minutes.
DOCUMENT_PAGES_WORTH = 16
MAX_OBJECTS = 1_000_000  # resource objects visited in a document

Key = tuple[int, int]
# A PDF name token in content: `/` then regular characters (ISO 32000-1, 7.2.2 and 7.3.5).
NAME = re.compile(rb"/([^\s/\[\]()<>{}%]*)")
_COMPRESSED = re.compile(rb"/Type\s*/(?:ObjStm|XRef)(?![^\s/\[\]<>()])")
_STREAM = re.compile(rb">>\s*stream(?:\r\n|\r|\n)")
_FILTERS = re.compile(rb"/(?:FlateDecode|LZWDecode|RunLengthDecode|ASCIIHexDecode|ASCII85Decode|Fl|LZW|RL|AHx|A85)\b")

@dataclass
class _Cost:
    """What drawing something costs: bytes decoded at every draw, and streams decoded once per page."""

    draws: int = 0
    once: dict[Key, int] = field(default_factory=dict)

    def add(self, other: _Cost, times: int, cap: int) -> None:
        self.draws = min(self.draws + other.draws * times, cap)
        self.once.update(other.once)

    def total(self) -> int:
        return self.draws + sum(self.once.values())


class DecodeBudget:
    """Checks pages of one open PDF against the per-page budget; remembers what it measured, so that pages
    sharing forms, fonts and images cost their decoding once."""

    def __init__(self, limit: int = MAX_PAGE_DECODED) -> None:
        self.limit = limit
        self._sizes: dict[Key, int] = {}
        self._forms: dict[tuple[Key, Key | None], _Cost] = {}
        self._resources: dict[tuple[Key, Key | None], _Cost] = {}
        self._decoded_total = 0
        self._visits = 0
        self._page = 0

    def check_page(self, page: pikepdf.Page, number: int) -> None:
        """Refuse the page (an InvalidPdfError naming the limit) when reading it would decode more than the
        budget."""
        self._page = number
        resources = inherited(page.obj, "/Resources")
        if resources is not None and not isinstance(resources, pikepdf.Dictionary):
            raise InvalidPdfError(f"page {number}'s /Resources is not a dictionary")
        if resources is not None and not isinstance(resources.get("/XObject", pikepdf.Dictionary()),
                                                    pikepdf.Dictionary):
            raise InvalidPdfError(f"page {number}'s /Resources /XObject is not a dictionary")
        cost = self._content(self._page_content(page.obj), resources, 0, set())
        for appearance in self._appearances(page.obj):
            cost.add(self._form(appearance, resources, 1, set()), 1, self.limit + 1)
            self._check(cost)
        self._check(cost)

    def _over(self) -> InvalidPdfError:
        return InvalidPdfError(f"page {self._page} expands to more than {self.limit / 2**20:g} MiB when decoded "
                               "(content, forms, images and fonts), the limit; the file looks like a decompression "
                               "bomb")

    def _check(self, cost: _Cost) -> None:
        if cost.total() > self.limit:
            raise self._over()

    # Streams --------------------------------------------------------------------------------------------------

    def _decoded(self, stream: pikepdf.Stream) -> bytes:
        """The stream's data, decoded within the budget; refused beyond it."""
        try:
            raw = stream.read_raw_bytes()
            filters = filter_names(stream.get("/Filter"))
            parms = stream.get("/DecodeParms")
        except (pikepdf.PdfError, TypeError, ValueError) as exc:
            raise InvalidPdfError(f"page {self._page} holds a stream that cannot be read") from exc
        early = parms.get("/EarlyChange", 1) if isinstance(parms, pikepdf.Dictionary) else 1
        result = decode(raw, filters, self.limit, 0 if early == 0 else 1)
        if result.data is None:
            raise self._over()
        self._decoded_total += len(result.data)
        if self._decoded_total > self.limit * DOCUMENT_PAGES_WORTH:
            raise InvalidPdfError(f"the document expands to more than {self.limit * DOCUMENT_PAGES_WORTH / 2**20:g} "
                                  "MiB when decoded; the file looks like a decompression bomb")
        return result.data

    def _size(self, stream: pikepdf.Stream) -> int:
        if stream.objgen not in self._sizes:
            self._sizes[stream.objgen] = len(self._decoded(stream))
        return self._sizes[stream.objgen]

    def _image(self, image: pikepdf.Stream) -> dict[Key, int]:
        """An image costs its declared pixels, or what its filters inflate to when that is more; its masks (and
        theirs, however they refer to each other) too."""
        costs: dict[Key, int] = {}
        pending = [image]
        while pending and len(costs) <= MAX_NESTING:
            current = pending.pop()
            if current.objgen not in self._sizes:
                declared = declared_size(current.get("/Width"), current.get("/Height"),
                                         current.get("/BitsPerComponent"), components(current.get("/ColorSpace")),
                                         bool(current.get("/ImageMask", False)))
                if declared > self.limit:
                    raise self._over()
                self._sizes[current.objgen] = max(declared, len(self._decoded(current)))
            costs[current.objgen] = self._sizes[current.objgen]
            pending += [m for m in (current.get("/SMask"), current.get("/Mask"))
                        if isinstance(m, pikepdf.Stream) and m.objgen not in costs]
        return costs

    # Content --------------------------------------------------------------------------------------------------

    def _page_content(self, page: pikepdf.Dictionary) -> bytes:
        contents = page.get("/Contents")
        if contents is None:
            return b""
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        if not all(isinstance(s, pikepdf.Stream) or s is None for s in streams):
            raise InvalidPdfError(f"page {self._page}'s /Contents is neither a stream nor an array of streams")
        parts = [self._content_stream(s) for s in streams if isinstance(s, pikepdf.Stream)]
        if sum(len(p) for p in parts) > self.limit:
            raise self._over()
        return b"\n".join(parts)  # readers join a page's content streams, so a token may span two

    def _content_stream(self, stream: pikepdf.Stream) -> bytes:
        """A page content stream must decode cleanly, or the page cannot be read whole (and qpdf --check calls
        a file with such a page broken). Once the budget has bounded it, qpdf decodes it to confirm."""
        unknown = [f for f in filter_names(stream.get("/Filter")) if f not in DECODABLE]
        if unknown:
            raise InvalidPdfError(f"page {self._page}'s content is encoded with {unknown[0]}, which PDF readers "
                                  "cannot decode")
        data = self._decoded(stream)
        try:
            stream.read_bytes(pikepdf.StreamDecodeLevel.specialized)
        except pikepdf.PdfError as exc:
            raise InvalidPdfError(f"page {self._page}'s content is damaged ({library_message(exc)})") from exc
        return data

    def _content(self, data: bytes, resources: pikepdf.Object | None, depth: int, stack: set[Key]) -> _Cost:
        """The cost of running content: its own bytes and inline images, and what its names draw."""
        cost = _Cost(len(data) + self._inline_images(data))
        self._check(cost)
        if not isinstance(resources, pikepdf.Dictionary) or b"/" not in data:
            return cost
        names: Counter[str] = Counter()
        for raw, count in Counter(NAME.findall(data)).items():
            names[_name(raw)] += count
        for category, entries in resources.items():
            if not isinstance(entries, pikepdf.Dictionary):
                continue
            for key, value in entries.items():
                times = names.get(key, 0) or (1 if not key.isascii() or "#" in key else 0)  # unsure: count it
                if not times:
                    continue
                if category == "/XObject":
                    cost.add(self._xobject(value, resources, depth + 1, stack), times, self.limit + 1)
                else:
                    cost.add(self._resource(value, resources, depth + 1, stack), 1, self.limit + 1)
                self._check(cost)
        return cost

    def _xobject(self, xobject: pikepdf.Object, resources: pikepdf.Dictionary, depth: int,
                 stack: set[Key]) -> _Cost:
        if not isinstance(xobject, pikepdf.Stream):
            return _Cost()  # readers skip a name that is no stream
        if xobject.get("/Subtype") == pikepdf.Name.Image:
            return _Cost(0, self._image(xobject))
        if xobject.get("/Subtype") == pikepdf.Name.Form:
            return self._form(xobject, resources, depth, stack)
        return _Cost(0, {xobject.objgen: self._size(xobject)})

    def _form(self, form: pikepdf.Stream, parent: pikepdf.Object | None, depth: int, stack: set[Key]) -> _Cost:
        """A form XObject (or tiling pattern, glyph procedure, appearance): its content run with its own resources,
        or its parent's when it has none."""
        if form.objgen in stack:
            raise InvalidPdfError(f"page {self._page} has form XObjects that draw each other in a loop")
        if depth > MAX_NESTING:
            raise InvalidPdfError(f"page {self._page} nests form XObjects or resources more than {MAX_NESTING} deep")
        own = form.get("/Resources")
        resources = own if isinstance(own, pikepdf.Dictionary) else parent
        key = (form.objgen, None if own is not None else _key(resources))
        if key not in self._forms:
            stack.add(form.objgen)
            self._forms[key] = self._content(self._decoded(form), resources, depth, stack)
            stack.discard(form.objgen)
        return self._forms[key]

    def _resource(self, value: pikepdf.Object, resources: pikepdf.Dictionary, depth: int, stack: set[Key]) -> _Cost:
        """A font, colour space, pattern, shading or graphics state: every stream it holds, found by walking it."""
        key = (value.objgen, _key(resources)) if isinstance(value, pikepdf.Object) and value.is_indirect else None
        if key is not None and key in self._resources:
            return self._resources[key]
        cost = _Cost()
        self._walk(value, resources, depth, stack, cost, set())
        if key is not None:
            self._resources[key] = cost
        return cost

    def _walk(self, value: object, resources: pikepdf.Dictionary, depth: int, stack: set[Key], cost: _Cost,
              seen: set[Key]) -> None:
        if not isinstance(value, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
            return
        if not self._visit(value, depth, seen):
            return
        if isinstance(value, pikepdf.Stream) and self._drawn(value, resources, depth, stack, cost):
            return
        if isinstance(value, pikepdf.Dictionary) and isinstance(value.get("/CharProcs"), pikepdf.Dictionary):
            own = value.get("/Resources")  # a Type 3 font: each glyph is a content stream
            glyph_resources = own if isinstance(own, pikepdf.Dictionary) else resources
            for proc in value.CharProcs.values():
                if isinstance(proc, pikepdf.Stream):
                    cost.add(self._form(proc, glyph_resources, depth + 1, stack), 1, self.limit + 1)
        # Up the tree (/Parent, an annotation's /P) lie pages, which are not this resource's to pay for.
        items = value if isinstance(value, pikepdf.Array) else [v for k, v in value.items()
                                                                 if k not in ("/Parent", "/P")]
        for item in items:
            if isinstance(item, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                self._walk(item, resources, depth + 1, stack, cost, seen)
        self._check(cost)

    def _visit(self, value: pikepdf.Object, depth: int, seen: set[Key]) -> bool:
        """Whether to walk into the object: not when seen in this walk; refused past the walk's limits."""
        if value.is_indirect:
            if value.objgen in seen:
                return False
            seen.add(value.objgen)
        self._visits += 1
        if self._visits > MAX_OBJECTS:
            raise InvalidPdfError(f"the document's pages use more than {MAX_OBJECTS} objects")
        if depth > MAX_NESTING:
            raise InvalidPdfError(f"page {self._page} nests form XObjects or resources more than {MAX_NESTING} deep")
        return True

    def _drawn(self, stream: pikepdf.Stream, resources: pikepdf.Dictionary, depth: int, stack: set[Key],
               cost: _Cost) -> bool:
        """Add a stream met in a resource; True when it is a form or image (whose dictionaries say no more)."""
        if stream.get("/Subtype") == pikepdf.Name.Form or stream.get("/PatternType") == 1:
            cost.add(self._form(stream, resources, depth, stack), 1, self.limit + 1)
            return True
        if stream.get("/Subtype") == pikepdf.Name.Image:
            cost.once.update(self._image(stream))
            return True
        cost.once[stream.objgen] = self._size(stream)  # a font program, CMap, colour profile, function …
        return False

    def _appearances(self, page: pikepdf.Dictionary) -> list[pikepdf.Stream]:
        """The appearance streams of the page's annotations (each drawn once when the page is shown)."""
        annots = page.get("/Annots")
        found: list[pikepdf.Stream] = []
        for annot in annots if isinstance(annots, pikepdf.Array) else []:
            ap = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
            for state in ap.values() if isinstance(ap, pikepdf.Dictionary) else []:
                if isinstance(state, pikepdf.Stream):
                    found.append(state)
                elif isinstance(state, pikepdf.Dictionary):
                    found += [s for s in state.values() if isinstance(s, pikepdf.Stream)]
        return found

    def _inline_images(self, data: bytes) -> int:
        """What the inline images in content cost: declared pixels, plus what their filters inflate to (from
        where the data starts: a reader finds the end of Flate data by inflating it)."""
        total = 0
        for image in inline_images(data):
            decodable = image.filters and image.filters[0] in DECODABLE  # else nothing inflates: it is content
            inflated = decode(image.data, image.filters, self.limit).data if decodable else b""
            if inflated is None:
                raise self._over()
            total += image.declared + len(inflated)
            if total > self.limit:
                raise self._over()
        return total


def check_object_streams(data: bytes, limit: int = MAX_PAGE_DECODED) -> bool:
    """Refuse PDF bytes holding an object or cross-reference stream that decodes to more than `limit`: qpdf
    inflates those whole as it opens the file, before any page is read. Found in the raw bytes (they must be
    checked before qpdf reads them); returns whether any of them is damaged (pyHanko cannot read those)."""
    damaged = False
    total = 0
    for found in _COMPRESSED.finditer(data):
        start = data.rfind(b"obj", max(0, found.start() - 4096), found.start())
        body = _STREAM.search(data, found.end(), found.end() + 4096)
        if start < 0 or body is None:
            continue
        filters = filter_names([f.decode("latin-1") for f in _FILTERS.findall(data[start:body.start()])])
        decoded = decode(memoryview(data)[body.end():], filters, limit)
        if decoded.data is None:
            raise InvalidPdfError(f"the PDF holds a compressed object stream that expands to more than "
                                  f"{limit / 2**20:g} MiB; the file looks like a decompression bomb")
        total += len(decoded.data)
        if total > limit * DOCUMENT_PAGES_WORTH:
            raise InvalidPdfError(f"the PDF's compressed object streams expand to more than "
                                  f"{limit * DOCUMENT_PAGES_WORTH / 2**20:g} MiB; the file looks like a "
                                  "decompression bomb")
        damaged = damaged or decoded.damaged
    return damaged


def check_pages(pdf: pikepdf.Pdf, indexes: list[int] | None = None, limit: int = MAX_PAGE_DECODED) -> None:
    """Refuse the document when any of the pages (0-based indexes; default all) decodes to more than `limit`."""
    budget = DecodeBudget(limit)
    pages = list(pdf.pages)  # pdf.pages[i] costs 70 µs each; the list, a few for all
    for index in indexes if indexes is not None else range(len(pages)):
        budget.check_page(pages[index], index + 1)


def _key(value: object) -> Key | None:
    return value.objgen if isinstance(value, pikepdf.Object) and value.is_indirect else None


def _name(raw: bytes) -> str:
    """A name token as pikepdf spells dictionary keys: `/` and the name with #xx escapes resolved."""
    text = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return "/" + text.decode("latin-1")

"""Hostile and damaged PDFs for the fuzz round (tests/pdf/test_fuzz.py, bench/pdf_fuzz.py): seeded mutations of
the corpus files, from byte flips to decompression bombs. The same seed gives the same mutants."""

from __future__ import annotations

import functools
import io
import random
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf

CORPUS_PDF = Path(__file__).resolve().parent.parent / "data" / "corpus" / "pdf"
CATEGORIES = ("flip", "truncate", "splice", "xref", "structure", "geometry", "form", "bomb")
BYTE_LEVEL = ("flip", "truncate", "splice", "xref")


@dataclass(frozen=True)
class Mutant:
    """One damaged file: which category of damage, what exactly (for a failure message), and its bytes."""

    category: str
    name: str
    data: bytes


def corpus() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(CORPUS_PDF.glob("*.pdf"))]


def mutants(seed: int, count: int) -> Iterator[Mutant]:
    """`count` mutants, round-robin over the categories, each drawn from its own seeded generator."""
    files = corpus()
    editable = [(name, data) for name, data in files if b"/Encrypt" not in data]  # pikepdf cannot edit those
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        category = CATEGORIES[index % len(CATEGORIES)]
        source, data = rng.choice(files if category in BYTE_LEVEL else editable)
        what, mutated = MUTATORS[category](rng, data)
        yield Mutant(category, f"{category}#{index} {source}: {what}", mutated)


# Byte-level damage ------------------------------------------------------------------------------------------------

def _flip(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    # Half the time near the end, where the xref table and trailer live.
    start = len(out) * 3 // 4 if rng.random() < 0.5 else 0
    spots = sorted(rng.randrange(start, len(out)) for _ in range(rng.randint(1, 8)))
    for spot in spots:
        out[spot] ^= 1 << rng.randrange(8)
    return f"bits flipped at {spots}", bytes(out)


def _truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    cut = rng.randrange(64, len(data))
    return f"cut at {cut} of {len(data)}", data[:cut]


def _splice(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    start = rng.randrange(len(data))
    length = rng.randint(1, 400)
    if rng.random() < 0.5:
        return f"{length} bytes removed at {start}", data[:start] + data[start + length:]
    return f"{length} bytes repeated at {start}", data[:start] + data[start:start + length] * 2 + data[start + length:]


def _xref(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    choice = rng.randrange(5)
    if choice == 0:
        return "startxref points elsewhere", re.sub(rb"startxref\s+\d+", lambda m: b"startxref\n%d" % rng.randrange(
            len(data)), data)
    if choice == 1:
        entries = list(re.finditer(rb"\d{10} \d{5} n", data))
        if entries:
            out = bytearray(data)
            for entry in rng.sample(entries, min(len(entries), rng.randint(1, 5))):
                out[entry.start():entry.start() + 10] = b"%010d" % rng.randrange(len(data) * 2)
            return "xref offsets changed", bytes(out)
    if choice == 2:
        return "xref keyword removed", data.replace(b"xref", b"xref"[::-1])
    if choice == 3:
        return "trailer /Size removed", re.sub(rb"/Size\s+\d+", b"", data)
    return "trailer /Root changed", re.sub(rb"/Root\s+\d+", b"/Root 9999", data)


# Edits through pikepdf: the file is well-formed, its content is not ----------------------------------------------

Edit = Callable[[random.Random, pikepdf.Pdf], str]


def _page(rng: random.Random, pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    return pdf.pages[rng.randrange(len(pdf.pages))].obj


def _parent_self_loop(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    page = _page(rng, pdf)
    page.Parent = page
    if "/Rotate" in page:
        del page.Rotate
    return "a page is its own /Parent"


def _kids_loop(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    pdf.Root.Pages.Kids.append(pdf.Root.Pages)
    return "the page tree lists itself as a kid"


def _kids_duplicate(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    pdf.Root.Pages.Kids.append(pdf.Root.Pages.Kids[0])
    return "a page listed twice"


def _deep_tree(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    node = pdf.Root.Pages
    for _ in range(rng.choice([70, 300])):
        child = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Kids=node.Kids, Count=node.Count))
        for kid in child.Kids:
            kid.Parent = child
        child.Parent = node
        node.Kids = pikepdf.Array([child])
        node = child
    return "a page tree hundreds of levels deep"


def _wrong_count(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    value = rng.choice([0, -1, 1000, 10**12, pikepdf.Name.X, pikepdf.String("3")])
    pdf.Root.Pages.Count = value
    return f"/Count {value!r}"


WRONG = [pikepdf.Array([1, 2]), 7, pikepdf.Name.Oops, pikepdf.String("x"), pikepdf.Dictionary(), True]


def _wrong_type(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    page = _page(rng, pdf)
    key = rng.choice(["/Resources", "/XObject", "/Font", "/Contents", "/Annots", "/Rotate", "/Kids", "/Type",
                      "/XObjectEntry", "/ContentsItem"])
    value = rng.choice(WRONG)
    if key == "/XObject" or key == "/Font":
        page.Resources = page.get("/Resources", pikepdf.Dictionary())
        page.Resources[key] = value
    elif key == "/XObjectEntry":
        page.Resources = page.get("/Resources", pikepdf.Dictionary())
        page.Resources.XObject = pikepdf.Dictionary(Fx0=value)
        page.Contents = pdf.make_stream(b"q /Fx0 Do Q")
    elif key == "/ContentsItem":
        page.Contents = pikepdf.Array([value, pdf.make_stream(b"")])
    elif key == "/Kids":
        pdf.Root.Pages.Kids.append(value)
    else:
        page[key] = value
    return f"{key} is {value!r}"


def _broken_root(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    key = rng.choice(["/Names", "/AcroForm", "/Pages", "/Outlines", "/Metadata", "/OpenAction", "/Info", "/ID"])
    value = rng.choice(WRONG)
    if key == "/Names" and rng.random() < 0.5:
        pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=value)
        return f"/Names /EmbeddedFiles is {value!r}"
    if key in ("/Info", "/ID"):
        pdf.trailer[key] = value
        return f"trailer {key} is {value!r}"
    pdf.Root[key] = value
    return f"catalog {key} is {value!r}"


def _structure(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    edit = rng.choice([_parent_self_loop, _kids_loop, _kids_duplicate, _deep_tree, _wrong_count, _wrong_type,
                       _wrong_type, _broken_root])
    return _edited(rng, data, edit)


def _box(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    page = _page(rng, pdf)
    key = rng.choice(["/MediaBox", "/CropBox"])
    box = rng.choice([
        [-1e12, -1e12, 0, 0], [0, 0, 1e12, 1e12], [0, 0, 0, 0], [10, 10, 10, 500], [0, 0, 20, 20], [0, 0, 2, 2000],
        [5000, 5000, 6000, 6000], [0, 0, 595], [pikepdf.Name.A, 0, 1, 1], [0, 0, 1e-9, 1e-9], 7,
        [-4e9, 0, 4e9, 842], [600, 0, 0, 842],
    ])
    page[key] = pikepdf.Array(box) if isinstance(box, list) else box
    return f"{key} {box}"


def _rotate(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    value = rng.choice([45, -90, 450, 10**15, 90.5, pikepdf.Name.R])
    _page(rng, pdf).Rotate = value
    return f"/Rotate {value!r}"


def _user_unit(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    _page(rng, pdf).UserUnit = rng.choice([0, -1, 1e9])
    return "/UserUnit out of range"


def _geometry(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    if rng.random() < 0.2:  # numbers pikepdf would not write
        number = rng.choice([b"1" + b"0" * 400, b"-" + b"9" * 400, b"1e5", b"--3", b"0.0.1"])
        out = re.sub(rb"/MediaBox\s*\[[^\]]*\]", b"/MediaBox [0 0 " + number + b" 842]", data, count=1)
        return f"a /MediaBox holding {number[:12]!r}", out
    return _edited(rng, data, rng.choice([_box, _box, _rotate, _user_unit]))


def _acroform(rng: random.Random, pdf: pikepdf.Pdf) -> str:
    page = _page(rng, pdf)
    choice = rng.randrange(7)
    if choice == 0:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=rng.choice(WRONG))
        return "/AcroForm /Fields of the wrong type"
    if choice == 1:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([pikepdf.Null(), 3, pikepdf.Dictionary()]))
        return "/AcroForm /Fields holding junk"
    widget = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                  Rect=[10, 10, 50, 50], P=page))
    if choice == 2:
        widget.FT, widget.T = pikepdf.Name.Tx, pikepdf.String("Seal")  # the field name the signature wants
        what = "a text field named like the signature field"
    elif choice == 3:
        widget.FT, widget.T = pikepdf.Name.Sig, pikepdf.String("Seal")
        widget.V = pikepdf.Dictionary(Type=pikepdf.Name.Sig, Contents=pikepdf.String(b"\0" * 8))
        what = "a signature field named like ours, holding a junk value"
    elif choice == 4:
        widget.FT, widget.T = pikepdf.Name.Sig, pikepdf.String("Seal")
        widget.Kids = pikepdf.Array([widget])
        what = "a signature field that is its own kid"
    elif choice == 5:
        widget.FT, widget.T, widget.Parent = pikepdf.Name.Sig, pikepdf.String("Seal"), widget
        what = "a signature field that is its own parent"
    else:
        widget.FT, widget.T, widget.Rect = pikepdf.Name.Sig, pikepdf.String("Seal"), pikepdf.Name.R
        what = "an empty signature field named like ours with a broken /Rect"
    page.Annots = pikepdf.Array([widget])
    resources = rng.choice(WRONG + [pikepdf.Dictionary()])
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]), DR=resources)
    return what


def _form(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    return _edited(rng, data, _acroform)


# Decompression bombs and recursion --------------------------------------------------------------------------------

@functools.cache
def zeros(mib: int) -> bytes:
    """Flate of `mib` MiB of spaces: about 1 KiB per MiB."""
    deflater = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    return b"".join(deflater.compress(chunk) for _ in range(mib)) + deflater.flush()


def form_xobject(pdf: pikepdf.Pdf, raw: bytes, filters: pikepdf.Object | None = None,
                  resources: pikepdf.Dictionary | None = None) -> pikepdf.Stream:
    stream = pdf.make_stream(raw, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 100, 100])
    if filters is not None:
        stream.Filter = filters
    stream.Resources = resources if resources is not None else pikepdf.Dictionary()
    return stream


def draw(pdf: pikepdf.Pdf, page: pikepdf.Dictionary, name: str, xobject: pikepdf.Object) -> None:
    page.Resources = page.get("/Resources", pikepdf.Dictionary())
    if not isinstance(page.Resources.get("/XObject"), pikepdf.Dictionary):
        page.Resources.XObject = pikepdf.Dictionary()
    page.Resources.XObject[name] = xobject
    pdf.pages[0].contents_add(pdf.make_stream(f"q {name} Do Q".encode()), prepend=False)


@functools.cache
def lzw_zeros(mib: int) -> bytes:
    """LZW codes that decode to `mib` MiB of zero bytes: each code names the entry it defines (one byte longer
    than the last), the table cleared before it fills; about 12 KiB per MiB."""
    codes, size = [], 0
    while size < mib << 20:
        codes += [256, 0]
        length = 1
        size += 1
        for code in range(258, 4000):
            length += 1
            size += length
            codes.append(code)
            if size >= mib << 20:
                break
    codes.append(257)
    out, buffer, filled, entries, first = bytearray(), 0, 0, 258, True
    for code in codes:
        # The reader's code width follows the size of its table (EarlyChange 1: one code early).
        bits = 9 if entries + 1 < 512 else 10 if entries + 1 < 1024 else 11 if entries + 1 < 2048 else 12
        buffer, filled = (buffer << bits) | code, filled + bits
        while filled >= 8:
            filled -= 8
            out.append((buffer >> filled) & 0xFF)
        buffer &= (1 << filled) - 1
        if code == 256:
            entries, first = 258, True
        elif first:
            first = False
        else:
            entries += 1
    if filled:
        out.append((buffer << (8 - filled)) & 0xFF)
    return bytes(out)


Bomb = Callable[[random.Random, pikepdf.Pdf, pikepdf.Dictionary], str]


def _form_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    mib = rng.choice([80, 300])
    draw(pdf, page, "/Bomb", form_xobject(pdf, zeros(mib), pikepdf.Name.FlateDecode))
    return f"a form XObject inflating to {mib} MiB"


def _content_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    mib = rng.choice([80, 300])
    page.Contents = pdf.make_stream(zeros(mib), Filter=pikepdf.Name.FlateDecode)
    return f"a content stream inflating to {mib} MiB"


def _doubling_forms(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    depth = rng.choice([20, 30])  # within the nesting limit: only counting each draw stops it
    inner = form_xobject(pdf, zeros(1), pikepdf.Name.FlateDecode)
    for _ in range(depth):
        inner = form_xobject(pdf, b"/A Do /B Do", resources=pikepdf.Dictionary(
            XObject=pikepdf.Dictionary(A=inner, B=inner)))
    draw(pdf, page, "/Tree", inner)
    return f"a 1 MiB form XObject drawn 2**{depth} times through a chain of forms drawing the next twice"


def _form_loop(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    first = form_xobject(pdf, b"/Next Do")
    second = form_xobject(pdf, b"/Next Do", resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Next=first)))
    first.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Next=second))
    draw(pdf, page, "/Loop", first)
    return "two form XObjects drawing each other"


def _deep_forms(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    deep = form_xobject(pdf, b"")
    for _ in range(200):
        deep = form_xobject(pdf, b"/D Do", resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(D=deep)))
    draw(pdf, page, "/Deep", deep)
    return "form XObjects nested 200 deep"


def _inline_declared(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    data = zlib.compress(b"\0" * (1 << 20), 9)
    pdf.pages[0].contents_add(pdf.make_stream(b"q BI /W 20000 /H 20000 /BPC 8 /CS /RGB /F /Fl ID " + data + b" EI Q"),
                              prepend=False)
    return "an inline image declaring 20000 x 20000 RGB"


def _inline_inflating(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    data = zeros(rng.choice([80, 300]))
    pdf.pages[0].contents_add(pdf.make_stream(b"q BI /W 1 /H 1 /BPC 8 /CS /G /F /Fl ID " + data + b" EI Q"),
                              prepend=False)
    return "an inline image whose data inflates without end"


def _huge_jpeg(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    image = pdf.make_stream(b"\xff\xd8\xff\xd9", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                            Width=100000, Height=100000, BitsPerComponent=8, ColorSpace=pikepdf.Name.DeviceRGB,
                            Filter=pikepdf.Name.DCTDecode)
    draw(pdf, page, "/Huge", image)
    return "a JPEG declaring 100000 x 100000 RGB"


def _lzw_content(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    page.Contents = pdf.make_stream(lzw_zeros(80), Filter=pikepdf.Name.LZWDecode)
    return "a content stream of LZW inflating to 80 MiB"


def _run_length_content(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    page.Contents = pdf.make_stream(bytes([129, 32]) * 800_000, Filter=pikepdf.Name.RunLengthDecode)
    return "a content stream of RunLength inflating to 100 MiB"  # 128 spaces from each pair of bytes


def _font_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    font_file = pdf.make_stream(zeros(300), Filter=pikepdf.Name.FlateDecode, Length1=1)
    descriptor = pikepdf.Dictionary(Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name.Bomb, FontFile2=font_file,
                                    Flags=32, FontBBox=[0, 0, 1, 1], ItalicAngle=0, Ascent=1, Descent=0,
                                    CapHeight=1, StemV=1)
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.TrueType, BaseFont=pikepdf.Name.Bomb, FontDescriptor=descriptor,
        ToUnicode=pdf.make_stream(zeros(80), Filter=pikepdf.Name.FlateDecode)))
    page.Resources = page.get("/Resources", pikepdf.Dictionary())
    page.Resources.Font = pikepdf.Dictionary(FBomb=font)
    pdf.pages[0].contents_add(pdf.make_stream(b"BT /FBomb 12 Tf 10 10 Td (e) Tj ET"), prepend=False)
    return "a font whose program and ToUnicode inflate to 380 MiB"


def _colour_space_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    icc = pdf.make_stream(zeros(300), Filter=pikepdf.Name.FlateDecode, N=3)
    page.Resources = page.get("/Resources", pikepdf.Dictionary())
    page.Resources.ColorSpace = pikepdf.Dictionary(CSBomb=pikepdf.Array([pikepdf.Name.ICCBased, icc]))
    pdf.pages[0].contents_add(pdf.make_stream(b"/CSBomb cs 0 0 0 sc 0 0 10 10 re f"), prepend=False)
    return "an ICC colour space inflating to 300 MiB"


def _pattern_loop(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    pattern = pdf.make_stream(b"/P0 scn 0 0 10 10 re f", Type=pikepdf.Name.Pattern, PatternType=1, PaintType=1,
                              TilingType=1, BBox=[0, 0, 10, 10], XStep=10, YStep=10)
    pattern.Resources = pikepdf.Dictionary(Pattern=pikepdf.Dictionary(P0=pattern))
    page.Resources = page.get("/Resources", pikepdf.Dictionary())
    page.Resources.Pattern = pikepdf.Dictionary(P0=pattern)
    pdf.pages[0].contents_add(pdf.make_stream(b"/Pattern cs /P0 scn 0 0 100 100 re f"), prepend=False)
    return "a tiling pattern that paints with itself"


def _appearance_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    appearance = form_xobject(pdf, zeros(300), pikepdf.Name.FlateDecode)
    page.Annots = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[0, 0, 10, 10],
        AP=pikepdf.Dictionary(N=appearance)))])
    return "an annotation whose appearance inflates to 300 MiB"


def _small_image_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    image = pdf.make_stream(zeros(300), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=10,
                            Height=10, BitsPerComponent=8, ColorSpace=pikepdf.Name.DeviceGray,
                            Filter=pikepdf.Name.FlateDecode)
    draw(pdf, page, "/Small", image)
    return "a 10 x 10 image whose data inflates to 300 MiB"


def _mask_loop(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    images = [pdf.make_stream(b"\xff\xd8\xff\xd9", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=8,
                              Height=8, BitsPerComponent=8, ColorSpace=pikepdf.Name.DeviceGray,
                              Filter=pikepdf.Name.DCTDecode) for _ in range(2)]
    images[0].SMask, images[1].Mask = images[1], images[0]
    draw(pdf, page, "/Masked", images[0])
    return "two images masking each other"


def _metadata_bomb(rng: random.Random, pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> str:
    # qpdf writes metadata streams decoded, whatever it is told: a bomb here is as large as it inflates to.
    pdf.Root.Metadata = pdf.make_stream(zeros(6), Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML,
                                        Filter=pikepdf.Name.FlateDecode)
    return "XMP metadata of 6 MiB"


BOMBS: list[Bomb] = [_form_bomb, _content_bomb, _doubling_forms, _form_loop, _deep_forms, _inline_declared,
                     _inline_inflating, _huge_jpeg, _lzw_content, _run_length_content, _font_bomb,
                     _colour_space_bomb, _pattern_loop, _appearance_bomb, _small_image_bomb, _mask_loop,
                     _metadata_bomb]


def object_stream_bomb(mib: int) -> bytes:
    """A three-object PDF whose objects sit in an object stream padded to `mib` MiB, written by hand: qpdf
    inflates an object stream whole as soon as it needs one object from it."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]
    offsets = [sum(len(o) + 1 for o in objects[:i]) for i in range(3)]
    header = b" ".join(b"%d %d" % (n + 1, offset) for n, offset in enumerate(offsets)) + b"\n"
    deflater = zlib.compressobj(9)
    body = deflater.compress(header + b"\n".join(objects) + b"\n")
    body += b"".join(deflater.compress(b" " * (1 << 20)) for _ in range(mib)) + deflater.flush()
    out = bytearray(b"%PDF-1.7\n")
    stream_at = len(out)
    out += b"4 0 obj\n<< /Type /ObjStm /N 3 /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        len(header), len(body)) + body + b"\nendstream\nendobj\n"
    xref_at = len(out)
    rows = [(0, 0, 65535), (2, 4, 0), (2, 4, 1), (2, 4, 2), (1, stream_at, 0), (1, xref_at, 0)]
    table = b"".join(bytes([kind]) + field.to_bytes(4, "big") + index.to_bytes(2, "big") for kind, field, index in rows)
    out += b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(table)
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _bomb(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    if rng.random() < 0.06:
        return "an object stream inflating to 300 MiB", object_stream_bomb(300)
    bomb = rng.choice(BOMBS)
    return _edited(rng, data, lambda rng, pdf: bomb(rng, pdf, pdf.pages[0].obj))


def _edited(rng: random.Random, data: bytes, edit: Edit) -> tuple[str, bytes]:
    """Apply an edit to the PDF opened with pikepdf; a file pikepdf cannot open or edit is left as it is."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pikepdf's notes about the damage we do on purpose
            what = edit(rng, pdf)
            out = io.BytesIO()
            pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none,
                     object_stream_mode=rng.choice(list(pikepdf.ObjectStreamMode)), fix_metadata_version=False)
            return what, out.getvalue()
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, TypeError, AttributeError, KeyError, IndexError):
        return "unchanged (not editable)", data


MUTATORS: dict[str, Callable[[random.Random, bytes], tuple[str, bytes]]] = {
    "flip": _flip, "truncate": _truncate, "splice": _splice, "xref": _xref, "structure": _structure,
    "geometry": _geometry, "form": _form, "bomb": _bomb,
}

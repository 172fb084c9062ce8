"""One decoded-size budget per page: bombs in forms, images, inline images, fonts and object streams are refused
by inspection, the keyword search and stamping alike, in bounded memory and time; honest pages pass."""

import io
import resource
import time
import zlib
from collections.abc import Callable

import pikepdf
import pytest

from app.pdf import (
    InvalidPdfError,
    KeywordSpec,
    SealImageSpec,
    StampSpec,
    inspect_pdf,
    place,
    render_seal_pdf,
    stamp_seal,
)
from app.pdf.budget import check_pages
from tests.conftest import contract_pdf
from tests.pdf.mutants import form_xobject, object_stream_bomb, zeros

KEYWORD = "甲方（盖章）："


def _edited(edit: Callable[[pikepdf.Pdf, pikepdf.Dictionary], None], source: bytes | None = None) -> bytes:
    """The two-page contract with the keyword, its last page edited."""
    with pikepdf.open(io.BytesIO(source or contract_pdf())) as pdf:
        edit(pdf, pdf.pages[-1].obj)
        out = io.BytesIO()
        pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
        return out.getvalue()


def _add_content(pdf: pikepdf.Pdf, page: pikepdf.Dictionary, content: bytes) -> None:
    pikepdf.Page(page).contents_add(pdf.make_stream(content), prepend=False)


def _draw_last(pdf: pikepdf.Pdf, page: pikepdf.Dictionary, name: str, xobject: pikepdf.Object) -> None:
    resources = page.Resources
    if "/XObject" not in resources:
        resources.XObject = pikepdf.Dictionary()
    resources.XObject[name] = xobject
    _add_content(pdf, page, f"q {name} Do Q".encode())


def _form_bomb(mib: int) -> bytes:
    return _edited(lambda pdf, page: _draw_last(pdf, page, "/Bomb",
                                                form_xobject(pdf, zeros(mib), pikepdf.Name.FlateDecode)))


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_a_form_xobject_bomb_is_refused_before_the_keyword_search_decodes_it():
    """The reproduction: a small PDF whose form XObject inflates to 256 MiB, sealed at a keyword on its page."""
    bomb = _form_bomb(256)
    assert len(bomb) < 1_000_000
    before, started = _peak_kib(), time.monotonic()
    with pytest.raises(InvalidPdfError, match=r"page 2 expands to more than 64 MiB .*decompression bomb"):
        place(bomb, [(KeywordSpec(KEYWORD), 1.0)])
    assert _peak_kib() - before < 100 * 1024 and time.monotonic() - started < 5
    for reader in (inspect_pdf, lambda data: stamp_seal(data, render_seal_pdf(SealImageSpec("T")), StampSpec())):
        with pytest.raises(InvalidPdfError, match="decompression bomb"):
            reader(bomb)


def test_an_honest_form_passes_and_the_limit_is_a_parameter():
    honest = _form_bomb(8)
    assert inspect_pdf(honest).page_count == 2
    assert place(honest, [(KeywordSpec(KEYWORD), 1.0)])[0].page_index == 1
    with pytest.raises(InvalidPdfError, match="more than 4 MiB"):
        inspect_pdf(honest, max_decoded=4 * 2**20)


def _doubling(depth: int) -> bytes:
    def edit(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        inner = form_xobject(pdf, zeros(1), pikepdf.Name.FlateDecode)
        for _ in range(depth):
            inner = form_xobject(pdf, b"/A Do /B Do", resources=pikepdf.Dictionary(
                XObject=pikepdf.Dictionary(A=inner, B=inner)))
        _draw_last(pdf, page, "/Tree", inner)
    return _edited(edit)


def test_a_form_costs_each_time_it_is_drawn_and_is_measured_once():
    """A 1 MiB form drawn 2**30 times through a chain of forms drawing the next one twice: pdfium would parse it
    each time; the budget counts every draw, yet computes each form's cost once."""
    inspect_pdf(_doubling(5))  # 32 MiB
    started = time.monotonic()
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        inspect_pdf(_doubling(30))
    assert time.monotonic() - started < 2


def test_forms_drawing_each_other_or_nested_too_deep_are_refused():
    def loop(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        first = form_xobject(pdf, b"/Next Do")
        second = form_xobject(pdf, b"/Next Do", resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Next=first)))
        first.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Next=second))
        _draw_last(pdf, page, "/Loop", first)

    def deep(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        form = form_xobject(pdf, b"")
        for _ in range(40):
            form = form_xobject(pdf, b"/D Do", resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(D=form)))
        _draw_last(pdf, page, "/Deep", form)

    with pytest.raises(InvalidPdfError, match="form XObjects that draw each other in a loop"):
        place(_edited(loop), [(KeywordSpec(KEYWORD), 1.0)])
    with pytest.raises(InvalidPdfError, match="more than 32 deep"):
        inspect_pdf(_edited(deep))


@pytest.mark.parametrize("content, what", [
    (b"q BI /W 20000 /H 20000 /BPC 8 /CS /RGB /F /Fl ID " + zlib.compress(b"\0" * 1000) + b" EI Q", "declared"),
    (b"q BI /W 1 /H 1 /BPC 8 /CS /G /F /Fl ID " + zeros(200) + b" EI Q", "inflating"),
    (b"q BI /Width 9000 /Height 9000 /ImageMask true ID " + b"\0" * 100 + b" EI Q", "small mask"),
])
def test_inline_images_count_their_declared_pixels_and_what_they_inflate_to(content: bytes, what: str):
    data = _edited(lambda pdf, page: _add_content(pdf, page, content))
    if what == "small mask":  # 9000 x 9000 bits: 10 MB, within the budget
        assert inspect_pdf(data).page_count == 2
        return
    before = _peak_kib()
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        place(data, [(KeywordSpec(KEYWORD), 1.0)])
    assert _peak_kib() - before < 100 * 1024


def _image(pdf: pikepdf.Pdf, raw: bytes, width: int, height: int, filters: pikepdf.Name) -> pikepdf.Stream:
    return pdf.make_stream(raw, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=width, Height=height,
                           BitsPerComponent=8, ColorSpace=pikepdf.Name.DeviceRGB, Filter=filters)


def test_images_cost_their_declared_size_once_per_page():
    jpeg = b"\xff\xd8\xff\xd9"  # never decoded: its declared size is what a renderer allocates
    huge = _edited(lambda pdf, page: _draw_last(pdf, page, "/Huge", _image(pdf, jpeg, 100_000, 100_000,
                                                                            pikepdf.Name.DCTDecode)))
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        inspect_pdf(huge)

    def tiled(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:  # 12 MB, drawn 20 times: readers cache it
        _draw_last(pdf, page, "/Tile", _image(pdf, jpeg, 2000, 2000, pikepdf.Name.DCTDecode))
        _add_content(pdf, page, b"q /Tile Do Q " * 19)
    assert inspect_pdf(_edited(tiled)).page_count == 2
    small_but_inflating = _edited(lambda pdf, page: _draw_last(pdf, page, "/Small", _image(
        pdf, zeros(200), 10, 10, pikepdf.Name.FlateDecode)))
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        inspect_pdf(small_but_inflating)


def test_images_that_mask_each_other_are_counted_once():
    def masks(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        first = _image(pdf, b"\xff\xd8\xff\xd9", 100, 100, pikepdf.Name.DCTDecode)
        second = _image(pdf, b"\xff\xd8\xff\xd9", 100, 100, pikepdf.Name.DCTDecode)
        first.SMask, second.SMask = second, first
        _draw_last(pdf, page, "/Masked", first)
    assert inspect_pdf(_edited(masks)).page_count == 2


def test_fonts_colour_spaces_and_appearances_count_too():
    def font(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        program = pdf.make_stream(zeros(200), Filter=pikepdf.Name.FlateDecode)
        page.Resources.Font.FBomb = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.TrueType, BaseFont=pikepdf.Name.Bomb,
            FontDescriptor=pikepdf.Dictionary(Type=pikepdf.Name.FontDescriptor, FontFile2=program)))
        _add_content(pdf, page, b"BT /FBomb 12 Tf (x) Tj ET")

    def colour_space(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        icc = pdf.make_stream(zeros(200), Filter=pikepdf.Name.FlateDecode, N=3)
        page.Resources.ColorSpace = pikepdf.Dictionary(CS9=pikepdf.Array([pikepdf.Name.ICCBased, icc]))
        _add_content(pdf, page, b"/CS9 cs 0 0 0 sc")

    def appearance(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        page.Annots = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[0, 0, 9, 9],
            AP=pikepdf.Dictionary(N=form_xobject(pdf, zeros(200), pikepdf.Name.FlateDecode))))])

    for edit in (font, colour_space, appearance):
        with pytest.raises(InvalidPdfError, match="decompression bomb"):
            place(_edited(edit), [(KeywordSpec(KEYWORD), 1.0)])


def test_an_object_stream_bomb_is_refused_before_qpdf_opens_the_file():
    """qpdf inflates an object stream whole as soon as it needs an object in it: 300 MiB for a 300 kB file."""
    bomb = object_stream_bomb(300)
    before = _peak_kib()
    with pytest.raises(InvalidPdfError, match="compressed object stream that expands to more than 64 MiB"):
        inspect_pdf(bomb)
    assert _peak_kib() - before < 100 * 1024
    assert inspect_pdf(object_stream_bomb(1)).page_count == 1


def test_damaged_or_undecodable_page_content_is_refused():
    good = zlib.compress(b"0 0 m 100 100 l S\n" * 1000)

    def corrupt(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        page.Contents = pdf.make_stream(good[:20] + b"\xff\xff\xff" + good[23:], Filter=pikepdf.Name.FlateDecode)

    def unknown(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        page.Contents = pdf.make_stream(b"q Q", Filter=pikepdf.Name("/FooDecode"))

    with pytest.raises(InvalidPdfError, match="page 2's content is damaged"):
        inspect_pdf(_edited(corrupt))
    with pytest.raises(InvalidPdfError, match="encoded with /FooDecode"):
        inspect_pdf(_edited(unknown))


def test_wrong_typed_resources_are_repaired_or_refused():
    def resources(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        page.Resources = pikepdf.Array([1, 2])

    def xobjects(pdf: pikepdf.Pdf, page: pikepdf.Dictionary) -> None:
        page.Resources.XObject = pikepdf.String("x")

    repaired = _edited(resources)  # qpdf replaces it with an empty dictionary, and says so
    assert any("Resources is missing or invalid" in r for r in inspect_pdf(repaired).repairs)
    assert stamp_seal(repaired, render_seal_pdf(SealImageSpec("T")), StampSpec()).startswith(b"%PDF")
    with pytest.raises(InvalidPdfError, match="/XObject is not a dictionary"):  # stamping adds its forms there
        inspect_pdf(_edited(xobjects))


def test_check_pages_counts_only_the_pages_asked_for():
    bomb = _form_bomb(100)
    with pikepdf.open(io.BytesIO(bomb)) as pdf:
        check_pages(pdf, [0])
        with pytest.raises(InvalidPdfError, match="page 2"):
            check_pages(pdf, [1])

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from app.pdf import (
    EveryPageSpec,
    InvalidPdfError,
    KeywordSpec,
    QrSpec,
    RidingSpec,
    SealImageSpec,
    StampPlan,
    StampSpec,
    WatermarkSpec,
    place,
    render_seal_pdf,
    stamp,
    stamp_seal,
)
from app.pdf.stamp import riding_groups
from tests.conftest import contract_pdf, corpus_pdf

DPI = 36
MM = DPI / 25.4  # pixels per millimetre at this resolution


def _red_box(png: Path) -> tuple[int, int, int, int] | None:
    image = Image.open(png).convert("RGB")
    reds = [(x, y) for x in range(image.width) for y in range(image.height)
            if (p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90]
    if not reds:
        return None
    xs, ys = [r[0] for r in reds], [r[1] for r in reds]
    return min(xs), min(ys), max(xs), max(ys)


def _render(pdf: bytes, page: int, tmp_path: Path, dpi: int = DPI) -> tuple[Path, tuple[int, int]]:
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    # -cropbox: render what a viewer shows, not the whole MediaBox.
    subprocess.run(["pdftoppm", "-png", "-cropbox", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                    str(source), str(tmp_path / "page")], check=True)
    png = tmp_path / "page.png"
    return png, Image.open(png).size


@pytest.mark.parametrize("page", [1, 2, 3, 4])
def test_seal_lands_bottom_right_and_upright_on_rotated_pages(tmp_path: Path, page: int):
    """habibi-rotated.pdf has /Rotate 90, 180, 270 and 360: the seal must sit where the reader looks."""
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    out = stamp_seal(corpus_pdf("habibi-rotated.pdf"), seal, StampSpec(page=page, x_mm=20, y_mm=30, size_mm=40))
    png, (width, height) = _render(out, page, tmp_path)
    box = _red_box(png)
    assert box is not None
    x1, y1, x2, y2 = box
    # Right edge 20 mm from the right, bottom edge 30 mm from the bottom, 40 mm square (±2 mm).
    assert abs((width - x2) - 20 * MM) <= 2 * MM
    assert abs((height - y2) - 30 * MM) <= 2 * MM
    assert abs((x2 - x1) - 40 * MM) <= 2 * MM and abs((y2 - y1) - 40 * MM) <= 2 * MM
    # Upright: the star (solid red) is in the middle, the purpose text below it, not beside it.
    image = Image.open(png).convert("RGB")
    centre = image.getpixel(((x1 + x2) // 2, (y1 + y2) // 2))
    assert centre[0] > 150 and centre[1] < 90


def test_stamp_is_vector_and_keeps_the_page_text(tmp_path: Path):
    original = corpus_pdf("pdflatex-4-pages.pdf")
    out = stamp_seal(original, render_seal_pdf(SealImageSpec("TEST ORG")), StampSpec(page=-1))
    with pikepdf.open(_write(tmp_path / "x.pdf", out)) as pdf:
        xobjects = pdf.pages[-1].Resources.XObject
        names = [n for n in xobjects.keys() if n.startswith("/SealFlow")]
        assert len(names) == 1 and xobjects[names[0]].Subtype == "/Form"
    texts = [subprocess.run(["pdftotext", "-f", "4", "-l", "4", str(p), "-"], capture_output=True, text=True).stdout
             for p in (tmp_path / "x.pdf", _write(tmp_path / "o.pdf", original))]
    stamped_lines, original_lines = (set(filter(None, t.splitlines())) for t in texts)
    assert original_lines and original_lines <= stamped_lines


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_page_out_of_range_is_a_clear_error():
    with pytest.raises(InvalidPdfError, match="page 9 does not exist; the document has 4 pages"):
        stamp_seal(corpus_pdf("pdflatex-4-pages.pdf"), render_seal_pdf(SealImageSpec("X")), StampSpec(page=9))


def _small_page(width: float, height: float) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(width, height))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_a_seal_that_does_not_fit_its_page_is_refused_with_a_message():
    """The reproduction: a 40 mm seal on a 28 mm page landed off the page, and nothing said so."""
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    small = _small_page(80, 80)
    message = r"the seal \(40 × 40 mm\) does not fit on page 1 \(28 × 28 mm\) at 25 × 25 mm from the bottom-right"
    with pytest.raises(InvalidPdfError, match=message):
        stamp_seal(small, seal, StampSpec(page=1, x_mm=25, y_mm=25, size_mm=40))
    with pytest.raises(InvalidPdfError, match="does not fit on page 1"):  # nor does a signature's box
        place(small, [(StampSpec(page=1), 1.0)])
    a4 = corpus_pdf("minimal-document.pdf")
    with pytest.raises(InvalidPdfError, match="at 500 × 25 mm from the bottom-right corner"):
        stamp_seal(a4, seal, StampSpec(page=1, x_mm=500, y_mm=25))
    for plan, what in [(StampPlan(seal_pdf=seal, every_page=EveryPageSpec(size_mm=30)), "the page seal"),
                       (StampPlan(qr=QrSpec("https://seals.example.com/v/1", size_mm=40)), "the QR code")]:
        with pytest.raises(InvalidPdfError, match=f"{what} .* does not fit on page 1"):
            stamp(small, plan)
    assert stamp_seal(_small_page(200, 200), seal, StampSpec(page=1, x_mm=5, y_mm=5, size_mm=40))


def test_a_seal_at_a_keyword_near_the_edge_is_pulled_onto_the_page():
    contract = contract_pdf(keyword_at=(560, 3))
    found = place(contract, [(KeywordSpec("甲方（盖章）：", size_mm=40), 1.0)])[0]
    x1, y1, x2, y2 = found.rect
    assert x1 >= 0 and y1 >= 0 and x2 <= 595.3 and y2 <= 841.9
    assert x2 == pytest.approx(595.28, abs=0.5) and y1 == pytest.approx(0, abs=0.5)


# --- keyword placement ---------------------------------------------------------------------------

def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_seal_is_centred_on_the_keyword(tmp_path: Path):
    x, y = 300.0, 200.0
    out = stamp(contract_pdf((x, y)), StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("TEST ORG")),
                                             seals=(KeywordSpec("甲方（盖章）", size_mm=30),)))
    png, (_, height) = _render(out, 2, tmp_path)
    box = _red_box(png)
    assert box is not None
    # The keyword is 6 characters of 12 pt from x on baseline y: its centre is about (x + 36, y + 4).
    cx, cy = _centre(box)
    assert abs(cx - (x + 36) * DPI / 72) <= 2 * MM
    assert abs(cy - (height - (y + 4) * DPI / 72)) <= 2 * MM
    assert abs((box[2] - box[0]) - 30 * MM) <= 2 * MM


def test_keyword_on_a_rotated_page_matches_poppler_word_box(tmp_path: Path):
    """Page 1 of habibi-rotated.pdf is /Rotate 90; poppler's word boxes are in the page as displayed."""
    out = stamp(corpus_pdf("habibi-rotated.pdf"), StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")),
                                                            seals=(KeywordSpec("habibi", size_mm=10, pages="1"),)))
    words = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(_write(tmp_path / "o.pdf", out)), "-"],
                           capture_output=True, text=True, check=True).stdout
    match = re.search(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">[^<]*habibi', words)
    assert match
    x1, y1, x2, y2 = (float(v) * DPI / 72 for v in match.groups())
    png, _ = _render(out, 1, tmp_path)
    box = _red_box(png)
    assert box is not None
    cx, cy = _centre(box)
    assert x1 - 2 * MM <= cx <= x2 + 2 * MM and y1 - 2 * MM <= cy <= y2 + 2 * MM


def test_missing_keyword_is_a_clear_error_and_makes_no_output():
    with pytest.raises(InvalidPdfError, match="the keyword '乙方（盖章）' is not in the document's text"):
        stamp(contract_pdf((300, 200)), StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")),
                                               seals=(KeywordSpec("乙方（盖章）"),)))


# --- page by page, mixed sizes, crop boxes -------------------------------------------------------

def _mixed_pages() -> bytes:
    """A4 portrait, A5 landscape, and a letter page whose CropBox is offset from its MediaBox."""
    pdf = pikepdf.new()
    for size in ((595, 842), (595, 420), (612, 792)):
        pdf.add_blank_page(page_size=size)
    pdf.pages[2].obj.CropBox = pikepdf.Array([50, 80, 562, 712])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("page", [1, 2, 3])
def test_every_page_seal_sits_at_the_same_visible_corner_on_mixed_pages(tmp_path: Path, page: int):
    plan = StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("TEST ORG")),
                     every_page=EveryPageSpec(x_mm=10, y_mm=15, size_mm=25, corner="top-left"))
    png, _ = _render(stamp(_mixed_pages(), plan), page, tmp_path)
    box = _red_box(png)
    assert box is not None
    assert abs(box[0] - 10 * MM) <= 2 * MM and abs(box[1] - 15 * MM) <= 2 * MM
    assert abs((box[2] - box[0]) - 25 * MM) <= 2 * MM


def test_every_page_honours_the_page_selection(tmp_path: Path):
    plan = StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("TEST ORG")), every_page=EveryPageSpec(pages="2-3"))
    out = stamp(corpus_pdf("pdflatex-4-pages.pdf"), plan)
    sealed = [_red_box(_render(out, page, tmp_path)[0]) is not None for page in (1, 2, 3, 4)]
    assert sealed == [False, True, True, False]


@pytest.mark.parametrize("pages, message", [("5", "page 5 does not exist"), ("3-1", "runs backwards"),
                                            ("x", "is not a page selection")])
def test_bad_page_selection_is_a_clear_error(pages: str, message: str):
    plan = StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")), every_page=EveryPageSpec(pages=pages))
    with pytest.raises(InvalidPdfError, match=message):
        stamp(corpus_pdf("pdflatex-4-pages.pdf"), plan)


# --- riding seal ---------------------------------------------------------------------------------

def _red_columns(png: Path) -> tuple[list[int], int]:
    """Which pixel columns hold seal red, and the image width."""
    image = Image.open(png).convert("RGB")
    columns = [x for x in range(image.width)
               if any((p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90 for y in range(image.height))]
    return columns, image.width


def test_riding_seal_slices_sit_on_the_right_edge_and_rebuild_the_seal(tmp_path: Path):
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    out = stamp(corpus_pdf("pdflatex-4-pages.pdf"), StampPlan(seal_pdf=seal, riding=RidingSpec(size_mm=40)))
    strips = []
    for page in (1, 2, 3, 4):
        png, (width, height) = _render(out, page, tmp_path, dpi=100)
        columns, _ = _red_columns(png)
        # Each page holds a quarter of the seal (10 mm), flush with the right edge.
        assert columns and max(columns) >= width - 2 and abs(len(columns) - 10 * 100 / 25.4) <= 5
        strips.append(Image.open(png).convert("RGB").crop((min(columns), 0, width, height)))
    rebuilt = Image.new("RGB", (sum(s.width for s in strips), strips[0].height), "white")
    x = 0
    for strip in strips:
        rebuilt.paste(strip, (x, 0))
        x += strip.width
    whole_png, _ = _render(stamp_seal(corpus_pdf("pdflatex-4-pages.pdf"), seal, StampSpec(page=1, size_mm=40)), 1,
                           tmp_path, dpi=100)
    assert _red_overlap(_red_crop(rebuilt), _red_crop(Image.open(whole_png).convert("RGB"))) > 0.65  # wrong order < 0.3


def _red_crop(image: Image.Image) -> Image.Image:
    """The image cut to its red pixels, scaled to 100 x 100 so that two renderings compare."""
    reds = [(x, y) for x in range(image.width) for y in range(image.height)
            if (p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90]
    xs, ys = [r[0] for r in reds], [r[1] for r in reds]
    return image.crop((min(xs), min(ys), max(xs) + 1, max(ys) + 1)).resize((100, 100))


def _red_overlap(a: Image.Image, b: Image.Image) -> float:
    """Intersection over union of the 5 x 5 cells holding red in two 100 x 100 images: coarse enough that a
    pixel of rounding does not count, fine enough that slices in the wrong order do."""
    def cells(image: Image.Image) -> set[tuple[int, int]]:
        return {(x // 5, y // 5) for x in range(image.width) for y in range(image.height)
                if (p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90}
    ca, cb = cells(a), cells(b)
    return len(ca & cb) / max(len(ca | cb), 1)


def test_long_document_gets_one_riding_seal_per_group(tmp_path: Path):
    pdf = pikepdf.new()
    for _ in range(25):
        pdf.add_blank_page()
    source = io.BytesIO()
    pdf.save(source)
    out = stamp(source.getvalue(), StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")),
                                             riding=RidingSpec(size_mm=40, max_slices=10)))
    assert riding_groups(25, 10) == [9, 8, 8]
    widths = [len(_red_columns(_render(out, page, tmp_path)[0])[0]) for page in (1, 9, 10, 25)]
    assert abs(widths[0] - 40 / 9 * MM) <= 1.5 * MM and abs(widths[2] - 40 / 8 * MM) <= 1.5 * MM


def test_alternate_edges_put_even_pages_on_the_left(tmp_path: Path):
    out = stamp(corpus_pdf("pdflatex-4-pages.pdf"),
                StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")), riding=RidingSpec(edge="alternate")))
    columns, width = _red_columns(_render(out, 2, tmp_path)[0])
    assert min(columns) <= 1 and max(columns) < width / 2
    columns, width = _red_columns(_render(out, 3, tmp_path)[0])
    assert max(columns) >= width - 2


def test_riding_seal_needs_two_pages():
    with pytest.raises(InvalidPdfError, match="at least two pages"):
        stamp(corpus_pdf("minimal-document.pdf"), StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")),
                                                            riding=RidingSpec()))


# --- watermark and QR code -----------------------------------------------------------------------

def test_watermark_covers_every_page_and_keeps_the_text(tmp_path: Path):
    original = corpus_pdf("pdflatex-4-pages.pdf")
    out = stamp(original, StampPlan(watermark=WatermarkSpec("机密 · emma · 2026-11-23")))
    for page in (1, 4):
        image = Image.open(_render(out, page, tmp_path)[0]).convert("RGB")
        greys = sum(1 for x in range(0, image.width, 2) for y in range(0, image.height, 2)
                    if 200 < (p := image.getpixel((x, y)))[0] < 250 and abs(p[0] - p[2]) < 6)
        assert greys > 200  # light grey text over much of the page, not one corner
    text = subprocess.run(["pdftotext", str(_write(tmp_path / "w.pdf", out)), "-"], capture_output=True,
                          text=True).stdout
    assert "机" in text and "Hello, here is some text" in text
    with pikepdf.open(io.BytesIO(original)) as before, pikepdf.open(io.BytesIO(out)) as after:
        for old_page, new_page in zip(before.pages, after.pages, strict=True):
            # The original content is kept byte for byte, only wrapped in q … Q and followed by the watermark.
            assert old_page.Contents.read_bytes() in b"".join(c.read_bytes() for c in new_page.Contents)


def test_qr_code_reads_back_to_the_verification_url(tmp_path: Path):
    url = "https://seals.example.com/verify/42?h=3f2a"
    out = stamp(corpus_pdf("pdflatex-4-pages.pdf"), StampPlan(qr=QrSpec(url, size_mm=25, caption="Verify")))
    source = _write(tmp_path / "q.pdf", out)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "4", "-l", "4", "-singlefile", str(source),
                    str(tmp_path / "qr")], check=True)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.png")], capture_output=True, text=True)
    assert decoded.stdout.strip() == url


def test_pages_share_the_streams_and_slices_they_have_in_common():
    """A 25-page riding seal with a seal on every page: each page draws the slice of its position in its group,
    named in its own resources, and the pages share the streams whose bytes are the same."""
    pdf = pikepdf.new()
    for _ in range(25):
        pdf.add_blank_page()
    source = io.BytesIO()
    pdf.save(source)
    seal = render_seal_pdf(SealImageSpec("X"))
    with pikepdf.open(io.BytesIO(seal)) as image:
        seal_width = float(image.pages[0].mediabox[2]) - float(image.pages[0].mediabox[0])
    out = stamp(source.getvalue(), StampPlan(seal_pdf=seal, every_page=EveryPageSpec(),
                                             riding=RidingSpec(max_slices=10)))
    with pikepdf.open(io.BytesIO(out)) as stamped:
        slices, openings, closings = set(), set(), set()
        for index, page in enumerate(stamped.pages):
            size, start = (9, 0) if index < 9 else (8, 9) if index < 17 else (8, 17)
            piece = page.Resources.XObject["/SealFlowRiding"]
            left, _, right, _ = (float(v) for v in piece.BBox)
            assert left == pytest.approx((index - start) * seal_width / size, abs=1e-3)
            assert right - left == pytest.approx(seal_width / size, abs=1e-3)
            assert b"/SealFlowPageSeal Do" in page.Contents[-1].read_bytes()
            slices.add(piece.objgen)
            openings.add(page.Contents[0].objgen)
            closings.add(page.Contents[-1].objgen)
    # One slice per group size and position; one opening `q`; one closing per distinct drawing (the last slices
    # of a 9-group and an 8-group sit at the same place: their bytes are the same, their resources differ).
    assert (len(slices), len(openings), len(closings)) == (9 + 8, 1, 9 + 8 - 1)

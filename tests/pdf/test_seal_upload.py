"""Uploaded seal images: PNG, SVG and PDF accepted as stampable one-page PDFs; unsafe files refused, and hostile
ones (tests/pdf/hostile_seals.py) refused quickly, before they are decoded or drawn."""

import io
import time

import pikepdf
import pytest
from PIL import Image, ImageDraw
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from app.pdf import SealImageError, SealUploadLimits, render_seal_preview
from app.pdf.seal_upload import load_seal_image
from tests.pdf import hostile_seals as hostile
from tests.pdf.test_seal_image import MM, is_red, page_size_mm, pdf_with_pages, poppler_render, preview


def png_with_alpha(width: int = 300, height: int = 200) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((10, 10, width - 10, height - 10), fill=(220, 20, 20, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="60mm" height="30mm" viewBox="0 0 60 30">
  <ellipse cx="30" cy="15" rx="28" ry="13" fill="none" stroke="#d91a1a" stroke-width="2"/>
  <rect x="20" y="10" width="20" height="10" fill="#d91a1a"/>
</svg>"""


def test_png_upload_becomes_a_stampable_pdf_that_keeps_its_alpha():
    data = load_seal_image(png_with_alpha(300, 200))
    width, height = page_size_mm(data)
    assert abs(width / height - 1.5) < 0.01
    with pikepdf.open(io.BytesIO(data)) as pdf:
        images = list(pdf.pages[0].get_images().values())
        assert len(images) == 1 and "/SMask" in images[0]
    image = preview(data, 72)
    assert image.getpixel((1, 1))[3] == 0  # transparent corner stays transparent
    assert is_red(image.getpixel((image.width // 2, image.height // 2)))


def test_svg_upload_becomes_a_pdf_of_its_size():
    data = load_seal_image(SVG)
    width, height = page_size_mm(data)
    assert abs(width - 60) < 0.5 and abs(height - 30) < 0.5
    image = preview(data, 72)
    assert is_red(image.getpixel((image.width // 2, image.height // 2)))
    assert image.getpixel((1, 1))[3] == 0


def test_one_page_pdf_upload_is_normalised_upright_to_its_visible_box(tmp_path):
    assert page_size_mm(load_seal_image(pdf_with_pages(1))) == pytest.approx((200 / MM, 100 / MM))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(200, 100))
    canvas.setFillColorRGB(0.85, 0.1, 0.1)
    canvas.rect(10, 60, 40, 30, fill=1, stroke=0)  # a mark at the top left, before rotation
    canvas.save()
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        pdf.pages[0].obj["/Rotate"] = 90
        pdf.pages[0].obj["/CropBox"] = [5, 0, 200, 100]
        rotated = io.BytesIO()
        pdf.save(rotated)
    data = load_seal_image(rotated.getvalue())
    assert page_size_mm(data) == pytest.approx((100 / MM, 195 / MM))  # turned as a reader sees it
    # Poppler shows the rotated original and the normalised seal alike: the mark ends up at the top right.
    (tmp_path / "original").mkdir()
    expected, actual = poppler_render(rotated.getvalue(), tmp_path / "original"), poppler_render(data, tmp_path)
    assert expected.size == actual.size
    assert is_red(actual.getpixel((actual.width - 25, 25))) and not is_red(actual.getpixel((25, 25)))
    differing = sum(a != b for a, b in zip(expected.get_flattened_data(), actual.get_flattened_data(), strict=True))
    assert differing < expected.width * expected.height * 0.01


def encrypted_pdf() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_with_pages(1))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user=""))
    return out.getvalue()


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text y="5">&x;</text></svg>"""
EXTERNAL = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="10" height="10"><image xlink:href="../../instance/secret.png" width="10" height="10"/></svg>"""


@pytest.mark.parametrize(("data", "message"), [
    (pdf_with_pages(2), "has 2 pages; it must have exactly one"),
    (b"\x00garbage\xff" * 20, "must be a PNG, SVG or PDF"),
    (b"<html><body>hi</body></html>", "not an SVG"),
    (b"<svg", "well-formed"),
    (hostile.png_header(50000, 50000), "50000 × 50000 pixels; the limit is 4000"),
    (XXE, "DOCTYPE"),
    (EXTERNAL, "refers to another file"),
    (b"%PDF-1.7\n" + b"0" * 100, "damaged"),
    (png_with_alpha() + b"\0" * (5 * 1024 * 1024), "the limit is 5 MiB"),
])
def test_unsafe_or_unusable_uploads_are_refused(data, message):
    with pytest.raises(SealImageError, match=message):
        load_seal_image(data)


def test_encrypted_pdf_upload_is_refused():
    with pytest.raises(SealImageError, match="encrypted|password"):
        load_seal_image(encrypted_pdf())


# The reproductions of issue 11: each was accepted, or answered 500, or held a worker.
REPRODUCTIONS = {
    "150,000 SVG shapes": (lambda: hostile.svg_with_shapes(150_000), "the SVG has over 2000 elements"),
    "SVG embedding a PNG claiming 100000 × 100000": (
        lambda: hostile.svg_with_image(hostile.png_header(100_000, 100_000)),
        "an image in the SVG is 100000 × 100000 pixels; the limit is 4000 a side"),
    "PDF with a 5 m page": (lambda: hostile.pdf_with_page(14400), "5080 × 5080 mm; the limit is 1000 mm a side"),
    "PDF with a 256 MiB stream": (lambda: hostile.pdf_with_stream(256), "decode to over 16 MiB"),
}


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_the_reproductions_are_refused_at_once_with_a_clear_message(name):
    build, message = REPRODUCTIONS[name]
    data = build()
    started = time.perf_counter()
    with pytest.raises(SealImageError, match=message):
        load_seal_image(data)
    assert time.perf_counter() - started < 5  # each takes well under a second; a held worker took minutes


@pytest.mark.parametrize(("build", "message"), [
    (lambda: hostile.svg_use_bomb(6, 10), r"over 2000 elements \(a <use> counts as what it copies"),
    (lambda: hostile.svg_nested(40), "nests elements over 12 deep"),
    (lambda: hostile.svg_with_path(30_000), "over 50000 coordinates"),
    (lambda: hostile.svg_with_style_rules(30_000), "over 1000 style rules"),
    (lambda: hostile.svg_with_style_rules(40, 1500), "40 style rules for 1502 elements; their product is over 40000"),
    (lambda: hostile.svg_with_image(hostile.png_header(5000, 10)), "5000 × 10 pixels; the limit is 4000"),
    (lambda: hostile.svg_with_image(hostile.jpeg_claiming(60000, 60000), "jpeg"), "claims over 179 million pixels"),
    (lambda: hostile.svg_with_image(b"GIF89a" + bytes(100)), "cannot be read as PNG"),  # a GIF labelled PNG
    (lambda: hostile.svg_with_image(hostile.png_header(10, 10), "gif"), "embeds an image other than PNG or JPEG"),
    (lambda: hostile.SVG_HEAD.replace(b"50mm", b"2000mm") + b"</svg>", "no usable size .* of at most 1000 mm"),
    (hostile.pdf_form_bomb, r"draws over 50000 operations \(a form counts each time it is drawn"),
    (lambda: hostile.pdf_with_image(100_000, 100_000), "an image in the seal PDF is 100000 × 100000 pixels"),
    (lambda: hostile.pdf_with_jpeg(hostile.jpeg_claiming(60000, 60000)), "claims over 179 million pixels"),
    (lambda: hostile.pdf_with_objects(3000), "objects; the limit is 2000"),
    (lambda: hostile.pdf_listing_its_page(5000), "lists over 1000 pages"),
    (lambda: hostile.pdf_listing_its_page(150_000), "150003 references between objects; the limit is 100000"),
    (lambda: hostile.pdf_xref_bomb(5_000_000), "decode to over 16 MiB"),
    (lambda: hostile.pdf_with_filter(b"/LZWDecode"), "LZW or RunLength"),
    (lambda: hostile.pdf_with_filter(b"[/RunLength#44ecode]"), "LZW or RunLength"),  # an escaped name is the same
    (lambda: hostile.pdf_with_filter(b"/JBIG9Decode"), "JBIG9Decode filter, which SealFlow does not read"),
])
def test_hostile_uploads_are_refused_before_they_are_decoded_or_drawn(build, message):
    data = build()
    started = time.perf_counter()
    with pytest.raises(SealImageError, match=message):
        load_seal_image(data)
    assert time.perf_counter() - started < 5


def test_seals_within_the_bounds_are_accepted_and_previewed_quickly():
    for data in (hostile.svg_nested(10, 1900), hostile.pdf_with_stream(12), png_with_alpha(4000, 100),
                 hostile.pdf_with_jpeg(hostile.jpeg_claiming(8, 8))):
        seal = load_seal_image(data)
        started = time.perf_counter()
        image = Image.open(io.BytesIO(render_seal_preview(seal)))
        assert max(image.size) <= 600 and time.perf_counter() - started < 1


def test_a_png_that_would_be_over_a_metre_is_fitted_to_one():
    image = Image.new("RGBA", (3000, 100), (200, 20, 20, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(72, 72))  # 3000 px at 72 dpi: 1058 mm
    width, height = page_size_mm(load_seal_image(out.getvalue()))
    assert width == pytest.approx(1000) and height == pytest.approx(1000 / 30)


def test_the_limits_are_the_callers_to_set():
    strict = SealUploadLimits(max_elements=2, max_bytes=1500, max_side_px=100, max_depth=2)
    with pytest.raises(SealImageError, match="over 2 elements"):
        load_seal_image(SVG, strict)
    with pytest.raises(SealImageError, match=r"the seal image is \d,\d{3} bytes; the limit is 1,500 bytes"):
        load_seal_image(png_with_alpha(300, 200), strict)
    with pytest.raises(SealImageError, match="120 × 20 pixels; the limit is 100 a side"):
        load_seal_image(png_with_alpha(120, 20), strict)
    with pytest.raises(SealImageError, match="over 2 deep"):
        load_seal_image(hostile.svg_nested(2), strict)
    with pytest.raises(SealImageError, match="decode to over 1 MiB"):
        load_seal_image(hostile.pdf_with_stream(2), SealUploadLimits(max_decoded_bytes=2**20))
    with pytest.raises(SealImageError, match="draws over 2 operations"):
        load_seal_image(pdf_with_pages(1), SealUploadLimits(max_operations=2))


def test_a_seal_whose_preview_is_slow_to_draw_is_refused():
    # What the counts cannot foresee is caught by timing the preview once, in a child process.
    with pytest.raises(SealImageError, match="takes over 1e-06 s to draw; simplify it"):
        load_seal_image(SVG, SealUploadLimits(render_seconds=0.000001))


def test_svg_fonts_are_never_looked_up_so_many_font_names_cost_nothing():
    # svglib ran fc-match and loaded a font file for each unknown family, weight and style, registering each for
    # good; unknown families are now drawn in SealFlow's CJK font, the standard ones as they were.
    load_seal_image(hostile.svg_with_fonts(3))
    registered = set(pdfmetrics.getRegisteredFontNames())
    started = time.perf_counter()
    seal = load_seal_image(hostile.svg_with_fonts(200).replace(b"Font", b"Other"))
    assert time.perf_counter() - started < 3 and set(pdfmetrics.getRegisteredFontNames()) == registered
    with pikepdf.open(io.BytesIO(seal)) as pdf:
        fonts = {str(font.BaseFont) for font in pdf.pages[0].Resources.Font.values()}
    assert fonts - {"/Helvetica"} == {"/AAAAAA+WenQuanYiZenHei-0"}  # (reportlab's default font is set first)
    with pikepdf.open(io.BytesIO(load_seal_image(SVG.replace(b"<rect", b'<text font-family="Times New Roman" '
                                                                       b'font-weight="bold">T</text><rect')))) as pdf:
        assert {str(font.BaseFont) for font in pdf.pages[0].Resources.Font.values()} - {"/Helvetica"} == {
            "/Times-Bold"}

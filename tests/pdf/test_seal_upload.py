"""Uploaded seal images: PNG, SVG and PDF accepted as stampable one-page PDFs; unsafe files refused."""

import io
import struct
import zlib

import pikepdf
import pytest
from PIL import Image, ImageDraw
from reportlab.pdfgen.canvas import Canvas

from app.pdf import SealImageError
from app.pdf.seal_upload import load_seal_image
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


def huge_png_header() -> bytes:
    """A PNG whose header claims 50000 × 50000 pixels; decoding it would need gigabytes."""
    ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 6, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\0" * 1000)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
            + b"\0\0\0\0IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


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
    (huge_png_header(), "50000 × 50000 pixels; the limit is 4000"),
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

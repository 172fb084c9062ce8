"""Images cost what they declare; inline images are found and sized in content without a PDF parser."""

import zlib

import pikepdf
import pytest

from app.pdf.images import components, declared_size, inline_images


@pytest.mark.parametrize("colorspace, expected", [
    (pikepdf.Name.DeviceRGB, 3), (pikepdf.Name.DeviceGray, 1), ("/CMYK", 4), ("/CS0", 4), (None, 4),
    (pikepdf.Array([pikepdf.Name.Indexed, pikepdf.Name.DeviceRGB, 255, b""]), 1),
    (pikepdf.Array([pikepdf.Name.DeviceN, pikepdf.Array([pikepdf.Name.A, pikepdf.Name.B]), pikepdf.Name.G]), 2),
])
def test_components(colorspace: object, expected: int):
    assert components(colorspace) == expected


def test_declared_size_and_what_readers_skip():
    assert declared_size(100, 50, 8, 3, False) == 15_000
    assert declared_size(9, 2, 1, 1, False) == 4  # rows are whole bytes
    assert declared_size(100_000, 100_000, 8, 3, False) == 30_000_000_000
    assert declared_size(100, 100, None, 3, True) == 1300  # a mask: one bit a pixel
    assert declared_size(-1, 5, 8, 1, False) == declared_size("x", 5, 8, 1, False) == declared_size(5, 5, 3, 1,
                                                                                                    False) == 0


def test_inline_images_are_found_with_their_filters_and_data():
    flate = zlib.compress(b"\xff" * 300)
    content = (b"q 10 0 0 10 0 0 cm BI /W 10 /H 10 /BPC 8 /CS /RGB /F /Fl ID " + flate + b" EI Q\n"
               b"BT (BI is not an image here) Tj ET BI /Width 4 /Height 2 /ImageMask true /F [/AHx] ID 00ff> EI")
    found = list(inline_images(content))
    assert [(i.declared, i.filters) for i in found] == [(300, ["/FlateDecode"]), (2, ["/ASCIIHexDecode"])]
    assert bytes(found[0].data).startswith(flate) and found[1].data == b"00ff"
    assert list(inline_images(b"0 0 m 10 10 l S")) == []

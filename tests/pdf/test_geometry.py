"""Page geometry is validated before anything is drawn: finite boxes of a sensible size, a /Rotate that is a
multiple of 90, a CropBox that overlaps the MediaBox."""

import io
import time

import pikepdf
import pytest

from app.pdf import InvalidPdfError, StampPlan, WatermarkSpec, inspect_pdf, stamp
from app.pdf.geometry import frame_of


def _page(**entries: object) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    for key, value in entries.items():
        pdf.pages[0].obj[f"/{key}"] = value
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_a_huge_negative_media_box_is_refused_at_once_instead_of_watermarked_for_ever():
    """The reproduction: watermark_pdf looped past 2 GB drawing rows over a box a trillion points wide."""
    data = _page(MediaBox=pikepdf.Array([-1e12, -1e12, 0, 0]))
    started = time.monotonic()
    with pytest.raises(InvalidPdfError, match="page 1's /MediaBox lies beyond 1e\\+07 pt, where no page is"):
        stamp(data, StampPlan(watermark=WatermarkSpec("CONFIDENTIAL")))
    with pytest.raises(InvalidPdfError, match="page 1 is larger than 51 m, the largest page SealFlow accepts"):
        inspect_pdf(_page(MediaBox=pikepdf.Array([-200_000, 0, 0, 842])))
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("entries, message", [
    ({"CropBox": pikepdf.Array([0, 0, 595])}, "/CropBox is not a rectangle of four numbers"),
    ({"CropBox": pikepdf.Array([pikepdf.Name.A, 0, 1, 1])}, "/CropBox is not a rectangle"),
    ({"MediaBox": pikepdf.Array([0, 0, 2e7, 842])}, "beyond 1e\\+07 pt"),
    ({"MediaBox": pikepdf.Array([0, 0, 0, 0])}, "empty or smaller than 3 pt"),
    ({"CropBox": pikepdf.Array([5000, 5000, 6000, 6000])}, "empty or smaller than 3 pt"),
    ({"Rotate": 45}, "not a multiple of 90 degrees"),
    ({"Rotate": pikepdf.Name.R}, "/Rotate is not a number"),
])
def test_unreadable_geometry_is_refused_with_a_message(entries: dict, message: str):
    with pytest.raises(InvalidPdfError, match=f"page 1.*{message}"):
        inspect_pdf(_page(**entries))


def test_a_media_box_that_is_no_rectangle_is_repaired_by_qpdf_and_said_so():
    info = inspect_pdf(_page(MediaBox=pikepdf.Array([0, 0, 595])))
    assert info.repaired and any("MediaBox is undefined; setting to letter" in r for r in info.repairs)


def test_the_visible_page_is_the_crop_box_within_the_media_box_turned_by_an_inherited_rotate():
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(600, 800))
    pdf.pages[0].obj.CropBox = pikepdf.Array([-100, 100, 500, 900])
    pdf.Root.Pages.Rotate = -270  # inherited, and negative: the same as 90
    frame = frame_of(pdf.pages[0], 1)
    assert (frame.llx, frame.lly, frame.urx, frame.ury, frame.rotate) == (0, 100, 500, 800, 90)
    assert (frame.width, frame.height) == (700, 500)

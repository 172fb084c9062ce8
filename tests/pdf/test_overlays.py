"""Overlays stay bounded whatever page they are made for."""

import io
import time

import pikepdf
import pytest

from app.pdf import PdfError, WatermarkSpec
from app.pdf.overlays import WATERMARK_CANVAS, watermark_pdf


def test_a_watermark_for_a_huge_page_is_drawn_small_and_scaled_up():
    started = time.monotonic()
    data = watermark_pdf(WatermarkSpec("CONFIDENTIAL"), 144_000, 20_000)
    assert time.monotonic() - started < 1 and len(data) < 200_000
    with pikepdf.open(io.BytesIO(data)) as pdf:
        _, _, width, height = (float(v) for v in pdf.pages[0].mediabox)
    assert width == pytest.approx(WATERMARK_CANVAS) and height == pytest.approx(WATERMARK_CANVAS * 20 / 144)


@pytest.mark.parametrize("spec, size, message", [
    (WatermarkSpec("X", font_size=0.01), (595, 842), "font size"),
    (WatermarkSpec("X"), (float("inf"), 842), "finite, positive"),
    (WatermarkSpec("X"), (0, 842), "finite, positive"),
])
def test_a_watermark_that_could_not_end_is_refused(spec: WatermarkSpec, size: tuple[float, float], message: str):
    with pytest.raises(PdfError, match=message):
        watermark_pdf(spec, *size)

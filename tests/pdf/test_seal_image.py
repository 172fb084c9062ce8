import io
import subprocess

import pikepdf
import pytest

from app.pdf import SealImageError, SealImageSpec, render_seal_pdf, render_seal_svg


@pytest.mark.parametrize("shape", ["round", "square"])
def test_seal_is_a_one_page_vector_pdf_of_the_requested_size(shape):
    data = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL", shape=shape, size_mm=42))
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        x1, y1, x2, y2 = (float(v) for v in pdf.pages[0].mediabox)
        assert abs((x2 - x1) - 42 * 72 / 25.4) < 0.5
        assert not pdf.pages[0].get_images()  # vector, not a raster image
    assert render_seal_svg(SealImageSpec("TEST ORG")).lstrip().startswith("<?xml")


def test_cjk_text_embeds_its_font(tmp_path):
    path = tmp_path / "seal.pdf"
    path.write_bytes(render_seal_pdf(SealImageSpec("示例科技有限公司", "合同专用章")))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts


def test_empty_name_is_refused():
    with pytest.raises(SealImageError):
        render_seal_pdf(SealImageSpec("  "))

import io
import math
import re
import subprocess
import time

import pikepdf
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from app.pdf import SealImageError, SealImageSpec, render_seal_pdf, render_seal_svg
from app.pdf.seal_image import render_seal_png, render_seal_preview, trial_render

MM = 72 / 25.4


def page_size_mm(data: bytes) -> tuple[float, float]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        x1, y1, x2, y2 = (float(v) for v in pdf.pages[0].mediabox)
        assert (x1, y1) == (0, 0) and int(pdf.pages[0].obj.get("/Rotate", 0)) == 0
        return (x2 - x1) / MM, (y2 - y1) / MM


def preview(data: bytes, dpi: int = 150) -> Image.Image:
    image = Image.open(io.BytesIO(render_seal_png(data, dpi)))
    assert image.mode == "RGBA"
    return image


def poppler_render(data: bytes, tmp_path) -> Image.Image:
    (tmp_path / "seal.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "72", "-cropbox", "-singlefile", str(tmp_path / "seal.pdf"),
                    str(tmp_path / "seal")], check=True)
    return Image.open(tmp_path / "seal.png").convert("RGBA")


def is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b, a = pixel
    return a > 128 and r > 150 and g < 120 and b < 120


def polar(image: Image.Image, fraction: float, angle: float) -> tuple[int, ...]:
    """The pixel at `fraction` of the radius from the centre, `angle` degrees counter-clockwise from 3 o'clock."""
    half = image.width / 2
    x = half + fraction * half * math.cos(math.radians(angle))
    y = half - fraction * half * math.sin(math.radians(angle))
    return image.getpixel((min(int(x), image.width - 1), min(int(y), image.height - 1)))


def red_in_band(image: Image.Image, inner: float, outer: float, angles) -> int:
    count = max(2, int((outer - inner) * image.width))  # two samples a pixel, so thin strokes are not missed
    steps = [inner + (outer - inner) * i / count for i in range(count + 1)]
    return sum(is_red(polar(image, r, a)) for a in angles for r in steps)


def red_runs(image: Image.Image, inner: float, outer: float) -> list[tuple[float, float]]:
    """Angular runs (in degrees, counter-clockwise from 3 o'clock) where the band holds red ink."""
    runs: list[tuple[float, float]] = []
    start = None
    angles = [a / 4 for a in range(-360, 1080)]  # -90° .. 270°: the top and both sides, clockwise wrap-free
    for angle in angles:
        red = red_in_band(image, inner, outer, [angle]) > 0
        if red and start is None:
            start = angle
        if not red and start is not None:
            runs.append((start, angle))
            start = None
    return runs


def pdffonts(data: bytes, tmp_path) -> str:
    (tmp_path / "fonts.pdf").write_bytes(data)
    return subprocess.run(["pdffonts", str(tmp_path / "fonts.pdf")], capture_output=True, text=True, check=True).stdout


# --- drawn seals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "size"), [
    (SealImageSpec("TEST ORG", "CONTRACT SEAL", shape="round", size_mm=42), (42, 42)),
    (SealImageSpec("示例科技有限公司", "合同专用章", "3101150012345"), (40, 40)),
    (SealImageSpec("张三丰", shape="oval"), (40, 26)),
    (SealImageSpec("王小明", "财务负责人", shape="oval", size_mm=30, height_mm=20), (30, 20)),
    (SealImageSpec("欧阳震华", shape="square", size_mm=20), (20, 20)),
    (SealImageSpec("JOHN SMITH", shape="square", size_mm=20), (20, 20)),
])
def test_each_shape_is_a_one_page_vector_pdf_of_the_requested_size(spec, size):
    data = render_seal_pdf(spec)
    width, height = page_size_mm(data)
    assert abs(width - size[0]) < 0.1 and abs(height - size[1]) < 0.1
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.pages[0].get_images()  # vector, not a raster image
    assert render_seal_svg(spec).lstrip().startswith("<?xml")


@pytest.mark.parametrize("spec", [
    SealImageSpec("示例科技有限公司", "合同专用章", "3101150012345"),
    SealImageSpec("张三丰", "法定代表人", shape="oval"),
    SealImageSpec("张三丰", shape="square"),
])
def test_cjk_text_embeds_its_font(spec, tmp_path):
    fonts = pdffonts(render_seal_pdf(spec), tmp_path)
    cjk = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts


def test_round_seal_has_ring_star_name_on_the_upper_arc_and_purpose_below(tmp_path):
    data = render_seal_pdf(SealImageSpec("示例科技有限公司", "合同专用章"))
    image = poppler_render(data, tmp_path)  # poppler, independently of our own preview
    for angle in range(0, 360, 15):
        assert is_red(polar(image, 0.97, angle)), f"ring missing at {angle}°"
    assert is_red(polar(image, 0, 0)), "no star in the centre"
    name_band = red_in_band(image, 0.62, 0.88, range(40, 141, 2))
    assert name_band > 60, "no name along the upper arc"
    assert red_in_band(image, 0.62, 0.88, range(250, 291, 2)) == 0, "text on the lower arc without a serial"
    purpose = image.crop((int(image.width * 0.25), int(image.height * 0.68), int(image.width * 0.75),
                          int(image.height * 0.82)))
    assert sum(is_red(p) for p in purpose.get_flattened_data()) > 20, "no purpose text under the star"


def test_serial_number_runs_along_the_lower_arc():
    without = preview(render_seal_pdf(SealImageSpec("示例科技有限公司", "合同专用章")), 300)
    with_serial = preview(render_seal_pdf(SealImageSpec("示例科技有限公司", "合同专用章", "3101150012345")), 300)
    assert red_in_band(without, 0.78, 0.88, range(240, 301, 2)) == 0
    assert red_in_band(with_serial, 0.78, 0.88, range(240, 301, 2)) > 40


@pytest.mark.parametrize("count", [4, 6, 8, 12, 16, 20])
def test_arc_text_fits_between_ring_and_star_without_touching(count):
    # 国 has ink all round its box, so each character is one angular run of red.
    image = preview(render_seal_pdf(SealImageSpec("国" * count)), 300)
    runs = red_runs(image, 0.5, 0.9)
    assert len(runs) == count, f"characters run into each other: {runs}"
    assert all(-45 < start and end < 225 for start, end in runs), "name outside the upper arc"
    assert abs((runs[0][0] + runs[-1][1]) / 2 - 90) < 2, "name not centred on the top"
    full = preview(render_seal_pdf(SealImageSpec("国" * count, "合同专用章", "12345678901234")), 300)
    assert red_in_band(full, 0.905, 0.925, range(0, 360)) == 0, "name or serial touches the ring"


def test_round_preview_is_transparent_outside_the_seal():
    image = preview(render_seal_pdf(SealImageSpec("示例科技有限公司", "合同专用章", "3101150012345")))
    for corner in [(0, 0), (image.width - 1, 0), (0, image.height - 1), (image.width - 1, image.height - 1)]:
        assert image.getpixel(corner)[3] == 0
    assert is_red(polar(image, 0.97, 180)) and is_red(polar(image, 0, 0))
    assert polar(image, 0.3, 135)[3] == 0  # between star and name: no ink, no white


def test_oval_seal_is_an_ellipse_with_the_name_across(tmp_path):
    image = poppler_render(render_seal_pdf(SealImageSpec("张三丰", shape="oval")), tmp_path)
    width, height = image.size
    assert abs(width / height - 40 / 26) < 0.05
    assert is_red(image.getpixel((1, height // 2))) and is_red(image.getpixel((width - 2, height // 2)))
    assert is_red(image.getpixel((width // 2, 1))) and is_red(image.getpixel((width // 2, height - 2)))
    middle = image.crop((width // 4, height // 3, 3 * width // 4, 2 * height // 3))
    assert sum(is_red(p) for p in middle.get_flattened_data()) > 50
    assert not is_red(image.getpixel((3, 3)))  # a corner outside the ellipse


def grid_words(data: bytes, tmp_path) -> dict[str, tuple[float, float]]:
    (tmp_path / "square.pdf").write_bytes(data)
    html = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "square.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    words = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">(.+?)</word>', html)
    return {text: (float(x), float(y)) for x, y, text in words}


def test_square_seal_reads_top_right_column_first_and_adds_yin_to_three_characters(tmp_path):
    words = grid_words(render_seal_pdf(SealImageSpec("张三丰", shape="square", size_mm=20)), tmp_path)
    assert set(words) == {"张", "三", "丰", "印"}
    right, left = words["张"][0], words["丰"][0]
    assert right > left and words["三"][0] == right and words["印"][0] == left
    assert words["张"][1] < words["三"][1] and words["丰"][1] < words["印"][1]  # y grows downwards here


def test_square_seal_of_four_and_two_characters(tmp_path):
    words = grid_words(render_seal_pdf(SealImageSpec("欧阳震华", shape="square", size_mm=20)), tmp_path)
    assert words["欧"][0] > words["震"][0] and words["欧"][1] < words["阳"][1] and words["震"][1] < words["华"][1]
    assert "印" not in words
    words = grid_words(render_seal_pdf(SealImageSpec("李四", shape="square", size_mm=20)), tmp_path)
    assert set(words) == {"李", "四"} and words["李"][0] > words["四"][0]


def test_square_seal_border_and_fill(tmp_path):
    image = poppler_render(render_seal_pdf(SealImageSpec("张三丰", shape="square")), tmp_path)
    for point in [(1, 1), (image.width - 2, image.height // 2), (image.width // 2, image.height - 2)]:
        assert is_red(image.getpixel(point))
    for quarter in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        x, y = (int(image.width * (0.15 + 0.4 * q)) for q in quarter)
        cell = image.crop((x, y, x + image.width // 4, y + image.height // 4))
        assert sum(is_red(p) for p in cell.get_flattened_data()) > 20, f"empty cell {quarter}"


@pytest.mark.parametrize(("spec", "message"), [
    (SealImageSpec("  "), "name"),
    (SealImageSpec("国" * 25), "at most 24"),
    (SealImageSpec("W" * 30), "too long"),
    (SealImageSpec("张三", "法人", shape="square"), "only the name"),
    (SealImageSpec("张三", serial="123", shape="oval"), "serial"),
    (SealImageSpec("张三", size_mm=500), "100 mm"),
    (SealImageSpec("张三", shape="hexagon"), "shape"),  # type: ignore[arg-type]
])
def test_specs_that_cannot_be_drawn_are_refused(spec, message):
    with pytest.raises(SealImageError, match=message):
        render_seal_pdf(spec)


# --- uploaded images ---------------------------------------------------------------------------------------


def pdf_with_pages(count: int, size: tuple[float, float] = (200, 100)) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=size)
    for _ in range(count):
        canvas.setFillColorRGB(0.85, 0.1, 0.1)
        canvas.rect(size[0] * 0.1, size[1] * 0.1, size[0] * 0.8, size[1] * 0.8, fill=1, stroke=0)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_png_preview_refuses_what_it_cannot_render():
    with pytest.raises(SealImageError, match="readable PDF"):
        render_seal_png(b"not a pdf")
    with pytest.raises(SealImageError, match="exactly one"):
        render_seal_png(pdf_with_pages(2))
    with pytest.raises(SealImageError, match="dpi"):
        render_seal_png(pdf_with_pages(1), dpi=5000)


def test_previews_fit_their_pixel_limit_instead_of_failing():
    big = pdf_with_pages(1, size=(14400, 7200))  # 5 m × 2.5 m
    assert Image.open(io.BytesIO(render_seal_preview(big))).size == (600, 300)
    assert Image.open(io.BytesIO(render_seal_png(big, dpi=100, max_side=1000))).size == (1000, 500)
    with pytest.raises(SealImageError, match="over 4000 pixels a side"):
        render_seal_png(big, dpi=100)


def test_the_trial_render_times_a_preview_in_a_child_and_stops_one_that_runs_on():
    from tests.pdf.hostile_seals import pdf_form_bomb

    assert 0 <= trial_render(render_seal_pdf(SealImageSpec("TEST ORG")), 2.0) < 2
    started = time.perf_counter()
    # pdfium alone: 47 s; the child is stopped at its processor limit, or at its memory limit when that comes first.
    with pytest.raises(SealImageError, match="takes over 0.5 s to draw|needs more than 1024 MiB to draw"):
        trial_render(pdf_form_bomb(), 0.5)
    assert time.perf_counter() - started < 10
    with pytest.raises(SealImageError, match="cannot be drawn"):
        trial_render(b"not a pdf", 2.0)

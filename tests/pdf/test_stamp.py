import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from app.pdf import InvalidPdfError, SealImageSpec, StampSpec, render_seal_pdf, stamp_seal
from tests.conftest import corpus_pdf

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


def _render(pdf: bytes, page: int, tmp_path: Path) -> tuple[Path, tuple[int, int]]:
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page), "-singlefile",
                    str(source), str(tmp_path / "page")], check=True)
    png = tmp_path / "page.png"
    return png, Image.open(png).size


@pytest.mark.parametrize("page", [1, 2, 3, 4])
def test_seal_lands_bottom_right_and_upright_on_rotated_pages(tmp_path: Path, page: int):
    """habibi-rotated.pdf has /Rotate 90, 180, 270 and 360: the seal must sit where the reader looks."""
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    out = stamp_seal(corpus_pdf("habibi-rotated.pdf"), seal, StampSpec(page=page - 1, x_mm=20, y_mm=30, size_mm=40))
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

"""The printed ledger: a sound A4 landscape PDF whose text (Chinese included, markup characters as written) reads
back with pdftotext, headings on every page, numbered pages and the footer."""

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from app.pdf import LedgerSpec, render_ledger
from tests.pdf.verifiers import qpdf_check

HEADINGS = ("Date", "Requester", "Document", "Copies", "Approvers")
WIDTHS = (0.15, 0.2, 0.35, 0.1, 0.2)


def spec(rows: tuple[tuple[str, ...], ...]) -> LedgerSpec:
    return LedgerSpec("用印登记台账 · 合同专用章", ("2026-01-01 – 2026-06-30", "保管人 Custodians: 张敏"),
                      HEADINGS, WIDTHS, rows, "No uses in this period", "Printed 2026-07-01 12:00 UTC by Alice",
                      "Page {page} of {pages}")


def text_of(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text, in reading order."""
    path = tmp_path / "ledger.pdf"
    path.write_bytes(pdf)
    sound, said = qpdf_check(path)
    assert sound, said
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60)
    return out.stdout.decode().split("\f")[:-1]


def test_rows_read_back_with_chinese_and_markup_as_written(tmp_path):
    rows = (("2026-03-10", "王芳 (Office)", "采购合同 <b>2026</b> & co", "3", "Harry, 李四"),
            ("2026-03-12", "Emma (Sales)", "framework.pdf", "1", "—"))
    pdf = render_ledger(spec(rows))
    [page] = text_of(pdf, tmp_path)
    for text in ("用印登记台账 · 合同专用章", "保管人 Custodians: 张敏", "王芳 (Office)", "采购合同 <b>2026</b> & co",
                 "Harry, 李四", "Emma (Sales)", "framework.pdf", "Printed 2026-07-01 12:00 UTC by Alice",
                 "Page 1 of 1"):
        assert text in page, text
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        width, height = (float(v) for v in opened.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape


def test_long_ledgers_repeat_the_headings_and_count_pages(tmp_path):
    rows = tuple((f"2026-03-{i % 28 + 1:02d}", f"申请人{i}", f"合同 {i}", "1", "Harry") for i in range(120))
    pages = text_of(render_ledger(spec(rows)), tmp_path)
    assert len(pages) > 2
    for number, page in enumerate(pages, start=1):
        assert "Requester" in page and "Approvers" in page
        assert f"Page {number} of {len(pages)}" in page
    assert sorted(int(n) for n in re.findall(r"申请人(\d+)", "".join(pages))) == list(range(120))


def test_an_empty_period_says_so_and_latin_text_needs_no_cjk_font(tmp_path):
    pdf = render_ledger(LedgerSpec("Usage ledger · Contract Seal", ("2026",), HEADINGS, WIDTHS, (),
                                   "No uses in this period", "Printed", "{page}"))
    [page] = text_of(pdf, tmp_path)
    assert "No uses in this period" in page
    assert b"SealFlowCJK" not in pdf


def test_a_row_must_fill_every_column():
    with pytest.raises(ValueError):
        render_ledger(spec((("2026-03-10", "too short"),)))

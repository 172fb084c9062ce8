"""The draft invalidation notice: a sound A4 portrait PDF whose text (Chinese, and markup characters as written)
reads back with pdftotext, with the draft mark, the documents' table and numbered pages."""

import io
import subprocess
from pathlib import Path

import pikepdf
import pytest

from app.pdf import NoticeSpec, render_notice
from app.pdf.certificate import TableSpec
from tests.pdf.verifiers import qpdf_check

COLUMNS = ("日期 Date", "申请号 No.", "文件 Document", "相对方 Counterparty", "SHA-256")
WIDTHS = (0.13, 0.11, 0.38, 0.2, 0.18)


def spec(rows: tuple[tuple[str, ...], ...]) -> NoticeSpec:
    return NoticeSpec(
        "作废声明 / Notice of invalidation", "测试集团有限公司",
        (("印章 Seal", "合同专用章"), ("证书序列号 Certificate serial", "1A2B3C\n4D5E6F"),
         ("撤销时间 Revoked", "2026-06-01 10:00:00 UTC")),
        ("测试集团有限公司特此声明：本单位“合同专用章”已于2026-06-01撤销。", "The seal was revoked on 2026-06-01."),
        TableSpec("文件清单 Documents", COLUMNS, WIDTHS, rows), "无 None", ("声明单位（盖章） Organisation (seal):",),
        "DRAFT for the legal team: not for publication", "Drafted 2026-06-02 by Alice", "Page {page} of {pages}")


def text_of(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text, in reading order, after qpdf found the file sound."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    sound, said = qpdf_check(path)
    assert sound, said
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60)
    return out.stdout.decode().split("\f")[:-1]


def test_the_notice_reads_back_with_its_documents(tmp_path):
    rows = (("2026-03-10", "#12", "采购合同 <b>2026</b> & co · contract · v1", "华东建设有限公司", "ab12cd34ef56ab78"),
            ("2026-04-01", "#15", "framework.pdf · agreement · v2", "—", "0011223344556677"))
    pdf = render_notice(spec(rows))
    [page] = text_of(pdf, tmp_path)
    for text in ("作废声明 / Notice of invalidation", "测试集团有限公司", "合同专用章", "1A2B3C", "4D5E6F",
                 "采购合同 <b>2026</b> & co", "#12", "#15", "华东建设有限公司", "ab12cd34ef56ab78", "framework.pdf",
                 "DRAFT for the legal team: not for publication", "Drafted 2026-06-02 by Alice", "Page 1 of 1"):
        assert text in page, text
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        width, height = (float(v) for v in opened.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 portrait


def test_a_long_list_marks_and_numbers_every_page(tmp_path):
    rows = tuple((f"2026-03-{i % 28 + 1:02d}", f"#{i}", f"合同 {i}", f"相对方{i}", "ab12cd34ef56ab78")
                 for i in range(150))
    pages = text_of(render_notice(spec(rows)), tmp_path)
    assert len(pages) > 2
    for number, page in enumerate(pages, start=1):
        assert "DRAFT for the legal team" in page and f"Page {number} of {len(pages)}" in page
        assert "SHA-256" in page  # the column headings repeat
    assert all(f"相对方{i}" in "".join(pages) for i in range(150))


def test_no_documents_says_so_and_rows_must_fit_the_columns(tmp_path):
    [page] = text_of(render_notice(spec(())), tmp_path)
    assert "无 None" in page
    with pytest.raises(ValueError):
        render_notice(spec((("2026-03-10", "#1"),)))

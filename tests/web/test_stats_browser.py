"""/stats in Chromium: an auditor picks a period, sees the charts and the lead times, downloads the XLSX and prints a
seal's ledger; the page at 1280 and 390 px wide. Screenshots go to /tmp/shots-stats/."""

import io
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
from playwright.sync_api import Page

from app.extensions import db
from tests.services.usage_data import build_uses, decide
from tests.web.browsing import login

SHOTS = Path("/tmp/shots-stats")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_auditor_reads_the_statistics_and_downloads_them(org, live_url: str, strict_page: Page):
    built = build_uses(org)
    start = datetime(2026, 3, 1, 8)
    for filed, hours in ((built.applications["a"], 3), (built.applications["b"], 26)):
        decide(filed, "head_approval", "Department head approval", start, start + timedelta(hours=hours), org.head)
    decide(built.applications["b"], "legal", "Legal review", start, start + timedelta(minutes=40), org.other_approver)
    db.session.commit()

    page = strict_page
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_url, "alice")
    page.click("#nav-stats")
    page.fill("#from", "2026-01-01")
    page.fill("#to", "2026-06-30")
    page.click("#show-period")
    assert "4 seal uses from 2026-01-01 to 2026-06-30" in page.inner_text("#stats-summary")
    for chart in ("#chart-months", "#chart-seals", "#chart-departments", "#chart-document-types",
                  "#chart-processes"):
        assert page.locator(f"{chart} rect").count() > 0 and page.locator(chart).bounding_box()["height"] > 40
    assert page.locator("#chart-seals text.label").all_text_contents() == ["Contract Seal", "公章 Company Seal"]
    rows = page.locator("#lead-times tbody tr").all_inner_texts()
    assert "Department head approval" in rows[0] and "1 d 2 h" in rows[0] and "40 min" in rows[1]
    _shot(page, "1-stats-1280")

    with page.expect_download() as download:
        page.click("#export-xlsx")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert [tuple(r) for r in book["Uses by seal"].iter_rows(values_only=True)][1:] == [
        ("Contract Seal", 2), ("公章 Company Seal", 2)]

    page.select_option("#ledger-seal", label="Contract Seal")
    with page.expect_download() as download:
        page.click("#print-ledger")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _shot(page, "2-stats-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # wide parts scroll inside their cards, not the page

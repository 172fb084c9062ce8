"""The compromise report in Chromium: a seal administrator revokes a seal for key compromise and lands on its page
with the report, chooses an earlier start and downloads the draft notice; the page at 1280 and 390 px wide.
Screenshots go to /tmp/shots-compromise/."""

from pathlib import Path

from playwright.sync_api import Page

from app.extensions import db
from tests.services.usage_data import build_uses
from tests.web.browsing import login

SHOTS = Path("/tmp/shots-compromise")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_revoking_for_key_compromise_shows_the_report(org, live_url: str, strict_page: Page):
    built = build_uses(org)
    built.applications["a"].counterparty = "华东建设工程有限公司"
    built.applications["b"].counterparty = "Acme Trading Ltd."
    db.session.commit()
    page = strict_page
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_url, "sam")
    page.goto(f"{live_url}/seals")
    row = f"#seal-{org.contract_seal.id}"
    page.select_option(f"{row} select[name=status]", "revoked")
    page.select_option(f"{row} select[name=revocation_reason]", "keyCompromise")
    page.fill(f"{row} input[name=revocation_note]", "key file found on a shared drive")
    page.click(f"{row} [type=submit]")
    assert "compromise report below" in page.inner_text(".flash")
    assert page.url.endswith(f"/seals/{org.contract_seal.id}#compromise-report")
    # The uses were in March, long before today's revocation: none in the default 90 days.
    assert "0 document versions" in page.inner_text("#exposure-summary")
    _shot(page, "1-revoked-1280")

    page.fill("#since", "2026-01-01")
    page.click("#show-since")
    assert "3 document versions on 2 applications, 2 counterparties" in page.inner_text("#exposure-summary")
    assert "华东建设工程有限公司" in page.inner_text("#exposure")
    _shot(page, "2-report-1280")
    with page.expect_download() as download:
        page.click("#notice-pdf")
    assert download.value.suggested_filename == f"compromise-{org.contract_seal.id}-20260101-notice.pdf"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # tables scroll inside their box
    _shot(page, "3-report-390")
    page.goto(f"{live_url}/seals/{org.contract_seal.id}")
    _shot(page, "4-seal-page-390")

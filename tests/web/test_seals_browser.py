"""A seal's pages in Chromium: its page (usage, image versions, certificates, history), the edit page, a new image
version (a hostile file refused on the form, then a good one) and a certificate renewal. Screenshots go to
/tmp/shots-seals/."""

from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.conftest import contract_pdf, file_and_approve, logout
from tests.pdf.hostile_seals import pdf_with_page
from tests.services.test_seal_images import blue_disc_png
from tests.web.browsing import login, run_worker

SHOTS = Path("/tmp/shots-seals")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _images_drawn(page: Page) -> bool:
    """Every image on the page loaded and has a size (a preview that failed has none), once the page has loaded (on a
    busy machine a click's navigation may be answered before its images are)."""
    page.wait_for_load_state("load")
    return page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")


def _expected(message: ConsoleMessage, url: str) -> bool:
    """Console errors that are answers, not faults: SealFlow has no favicon, and a refused upload is answered 422
    (the form again, with the reason)."""
    where = message.location.get("url", "")
    return "Failed to load resource" in message.text and (
        where == f"{url}/favicon.ico" or (where.endswith("/image") and "422" in message.text))


def test_a_seal_administrator_edits_replaces_the_image_and_renews_in_the_browser(
        app, client, org, live_url: str, browser: Browser, tmp_path: Path):
    file_and_approve(client, org.contract_seal.id, contract_pdf())
    logout(client)
    run_worker(app)  # one document sealed: the page shows a use

    # As strict as tests/web/browsing.strict_page (JavaScript errors and CSP refusals fail), but for the 422 of the
    # refused upload and the favicon.
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda m: errors.append(f"console: {m.text} at {m.location.get('url')}")
            if m.type == "error" and not _expected(m, live_url) else None)
    login(page, live_url, "sam")
    page.goto(f"{live_url}/seals")
    page.click("text=Contract Seal")
    assert page.inner_text("h1") == "Contract Seal"
    assert "Documents sealed with it: 1" in page.inner_text("#seal-usage")
    assert _images_drawn(page)
    _shot(page, "1-seal-page")

    page.click("#edit-seal")
    _shot(page, "2-edit-page")
    page.fill("#name", "合同专用章（2027）")
    page.select_option("#custodian_ids", label="Sam")
    page.click("#submit")
    assert "is saved" in page.inner_text(".flash")
    assert page.inner_text("h1") == "合同专用章（2027）" and page.inner_text("#custodians") == "Sam"

    page.click("#replace-image")
    hostile = tmp_path / "huge.pdf"
    hostile.write_bytes(pdf_with_page(14400))
    page.set_input_files("#image", str(hostile))
    page.click("#submit")
    assert "the limit is 1000 mm a side" in page.inner_text(".flash.error")
    _shot(page, "3-image-refused")
    upload = tmp_path / "blue.png"
    upload.write_bytes(blue_disc_png())
    page.set_input_files("#image", str(upload))
    page.fill("#note", "new seal carved in 2027")
    page.click("#submit")
    assert "Image version 2" in page.inner_text(".flash")
    assert "version 2" in page.inner_text("#current-image")
    assert "current" in page.inner_text("#image-2") and "new seal carved in 2027" in page.inner_text("#image-2")
    assert page.inner_text("#image-1 td:last-child") == "1"  # the document sealed before: with version 1

    page.click("#renew-form button, #renew-form input[type=submit]")
    assert "new key and certificate" in page.inner_text(".flash")
    assert page.locator("#seal-certificates tbody tr").count() == 2
    history = page.inner_text("#seal-history")
    for words in ("Certificate renewed", "New image version", "Renamed", "Holders changed", "Seal added"):
        assert words in history
    assert _images_drawn(page)
    _shot(page, "4-seal-page-after")

    page.click("#language-switch")
    assert "印模版本" in page.inner_text("main") and "使用情况" in page.inner_text("main")
    _shot(page, "5-seal-page-zh")
    page.set_viewport_size({"width": 390, "height": 800})
    _shot(page, "6-seal-page-phone")
    page.close()
    assert not errors, "\n".join(errors)

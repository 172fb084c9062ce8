"""The archive in Chromium: emma files through the page (title, counterparty, copies), alice the auditor lands on the
archive, finds it by counterparty, exports the result as XLSX (read back with openpyxl) and opens the application.
Screenshots (1280 and 390 px wide) go to /tmp/shots-archive/."""

from pathlib import Path

import openpyxl
from flask import Flask
from playwright.sync_api import Page

from tests.conftest import CORPUS, Org, file_application, logout
from tests.conftest import login as client_login
from tests.web.browsing import login

SHOTS = Path("/tmp/shots-archive")


def _shots(page: Page, name: str) -> None:
    """The page at desktop and at phone width."""
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_auditor_finds_an_application_by_counterparty_and_exports_it(
        app: Flask, client, org: Org, live_url: str, strict_page: Page, tmp_path: Path):
    client_login(client, "emma")
    other = file_application(client, org.contract_seal.id, (CORPUS / "pdf" / "minimal-document.pdf").read_bytes(),
                             title="Letter to the bank", counterparty="中国工商银行", document_type="letter")
    logout(client)
    page = strict_page
    login(page, live_url, "emma")
    page.goto(f"{live_url}/applications/new?process=seal_application")
    page.select_option("#seal_id", label="Contract Seal")
    page.fill("#title", "Steel supply contract 2027")
    page.fill("#counterparty", "上海华东建设有限公司")
    page.fill("#copies", "3")
    page.set_input_files("#document", str(CORPUS / "pdf" / "pdflatex-4-pages.pdf"))
    page.fill("#reason", "Steel for the new plant")
    page.fill("#amount", "80,000")
    _shots(page, "1-filing-form")
    page.click("#submit")
    assert "submitted" in page.inner_text(".flash")
    application_id = int(page.url.rsplit("/", 1)[1])
    assert page.inner_text("#counterparty") == "上海华东建设有限公司" and page.inner_text("#copies") == "3"
    page.click("text=Log out")

    login(page, live_url, "alice")
    page.wait_for_url(f"{live_url}/archive")  # an auditor's home
    assert page.inner_text("h1") == "Archive" and "2 applications found" in page.inner_text("#found")
    page.fill("#counterparty", "华东")
    page.click("#search")
    assert "1 application found" in page.inner_text("#found")
    row = page.locator(f"#application-{application_id}")
    assert "Steel supply contract 2027" in row.inner_text() and "80,000.00" in row.inner_text()
    assert page.locator(f"#application-{other}").count() == 0
    _shots(page, "2-archive-found")

    with page.expect_download() as download:
        page.click("#export-xlsx")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(saved).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(rows) == 1
    found = dict(zip(header, rows[0], strict=True))
    assert (found["No."], found["Document title"], found["Counterparty"], found["Amount"], found["Copies"]) == (
        application_id, "Steel supply contract 2027", "上海华东建设有限公司", 80000, 3)
    assert found["Requester"] == "Emma (emma)" and found["Status"] == "Pending approval"

    page.click("#sort-amount")  # the criteria stay, the order changes
    assert page.input_value("#counterparty") == "华东" and "1 application found" in page.inner_text("#found")
    page.click(f"#application-{application_id} a >> nth=0")
    assert page.inner_text("h1").startswith(f"Application #{application_id}")
    assert page.inner_text("#title") == "Steel supply contract 2027"
    _shots(page, "3-application")

    page.goto(f"{live_url}/archive?filed_from=2027-13-01")  # a bad date: the form says so
    assert "Not a valid date value" in page.inner_text("#archive-search")
    page.goto(f"{live_url}/archive")
    _shots(page, "4-archive-all")

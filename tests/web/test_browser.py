"""The journey's pages in a real browser: Playwright driving Debian's Chromium."""

from pathlib import Path

from playwright.sync_api import Browser, Page

from app.extensions import db
from app.models import SealKind
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import seals
from tests.conftest import CORPUS
from tests.web.browsing import login, run_worker


def _approve_as_head(page: Page, url: str) -> None:
    """harry, emma's department head, approves the application waiting in his inbox."""
    login(page, url, "harry")
    page.click("text=Inbox")
    page.click("text=Approvals the seal policy requires")
    page.check("input[value=approve]")
    page.click("#submit")
    assert "Decision recorded." in page.inner_text(".flash")


def test_file_approve_and_download_in_the_browser(app, live_url: str, browser: Browser, tmp_path: Path):
    page = browser.new_page(locale="en-US")
    login(page, live_url, "emma")
    page.click("text=New application")
    page.click("a:text-is('Seal application')")
    page.select_option("#seal_id", label="Contract Seal")
    page.set_input_files("#document", str(CORPUS / "pdf" / "pdflatex-4-pages.pdf"))
    page.fill("#title", "Supply contract")
    page.fill("#counterparty", "ACME Ltd")
    page.fill("#reason", "Supply contract with ACME")
    page.click("#submit")
    assert "submitted" in page.inner_text(".flash")
    application_url = page.url
    page.click("text=Log out")

    _approve_as_head(page, live_url)
    page.click("text=Log out")

    run_worker(app)
    login(page, live_url, "emma")
    page.goto(application_url)
    assert "Sealed" in page.inner_text("h1")
    with page.expect_download() as download:
        page.click("#download-sealed")
    saved = tmp_path / "sealed.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")


def test_language_switch_in_the_browser(live_url: str, browser: Browser):
    page = browser.new_page(locale="en-US")
    page.goto(f"{live_url}/login")
    assert page.inner_text("h1") == "Log in"
    page.click("#language-switch")
    assert page.inner_text("h1") == "登录"


def test_the_filing_form_shows_what_the_chosen_process_needs_and_files_a_countersign(app, live_url: str,
                                                                                    browser: Browser):
    page = browser.new_page(locale="en-US")
    login(page, live_url, "emma")
    page.click("text=New application")
    page.click("text=Parties sign in order")  # each process's form asks for its own fields
    assert page.is_visible("select[name=parties-user]") and not page.is_visible("#countersigners")
    page.click("text=choose another")
    page.click("text=Countersigned seal application")
    assert page.is_visible("#countersigners") and not page.is_visible("select[name=parties-user]")

    page.select_option("#seal_id", label="Contract Seal")
    page.set_input_files("#document", str(CORPUS / "pdf" / "minimal-document.pdf"))
    page.fill("#title", "Joint purchase")
    page.fill("#reason", "Joint purchase with Office")
    page.fill("#amount", "25,000")
    page.select_option("#countersigners", label="Olga")
    page.click("#submit")
    assert "submitted" in page.inner_text(".flash")
    page.click("text=Log out")

    _approve_as_head(page, live_url)
    page.click("text=Log out")
    login(page, live_url, "olga")
    page.click("text=Inbox")
    page.click("text=Countersign")
    assert "25,000.00" in page.inner_text("main") and "Countersigned seal application" in page.inner_text("main")


def test_a_leader_grants_an_authorization_it_signs_an_application_then_the_leader_revokes(
        app, live_url: str, browser: Browser, org, tmp_path: Path):
    seal = seals.create_seal("Leo's Signature", SealKind.PERSONAL, SealImageSpec("LEO", shape="oval"),
                             Actor.system("test"), org.department)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=org.leader.id, department_ids=(org.department.id,)),
                      Actor.system("test"))
    db.session.commit()

    page = browser.new_page(locale="en-US")
    login(page, live_url, "leo")
    page.click("#nav-authorizations")
    page.select_option("#document_types", ["letter"])
    page.fill("#uses", "2")
    page.click("#submit")
    assert "granted" in page.inner_text(".flash")
    assert page.inner_text("#grants .uses") == "2 / 2"
    page.click("text=Log out")

    def file_a_letter() -> None:
        login(page, live_url, "emma")
        page.click("text=New application")
        page.click("text=Leader's signature")
        page.select_option("#seal_id", label="Leo's Signature")
        page.select_option("#document_type", "letter")
        page.set_input_files("#document", str(CORPUS / "pdf" / "pdflatex-4-pages.pdf"))
        page.fill("#title", "Letter to the bank")
        page.fill("#reason", "Letter to the bank")
        page.click("#submit")
        assert "submitted" in page.inner_text(".flash")
        page.click("text=Log out")
        _approve_as_head(page, live_url)
        page.click("text=Log out")
        run_worker(app)

    file_a_letter()  # signed under the authorization: no step of leo's
    login(page, live_url, "leo")
    page.click("text=Inbox")
    assert "Leader authorizes the signature" not in page.inner_text("main")
    page.click("#nav-authorizations")
    assert page.inner_text("#grants .uses") == "1 / 2" and "Used for" in page.inner_text("#grants")
    page.screenshot(path=str(tmp_path / "authorizations.png"), full_page=True)
    page.click("#grants button.revoke")
    assert "revoked" in page.inner_text(".flash") and "Revoked" in page.inner_text("#grants .grant-status")
    page.click("text=Log out")

    file_a_letter()  # the authorization is revoked: leo decides himself
    login(page, live_url, "leo")
    page.click("text=Inbox")
    assert "Leader authorizes the signature" in page.inner_text("main")

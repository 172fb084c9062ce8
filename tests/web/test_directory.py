"""Directory login through the login form, and the seal administrators' Directory page, against a real slapd."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services import accounts
from tests.conftest import PASSWORD, login
from tests.directory_server import PASSWORDS, PEOPLE_ENTRIES, free_port, use_directory
from tests.web.browsing import login as browser_login

SHOTS = Path(os.environ.get("SEALFLOW_SHOTS", "/tmp/shots-ldap"))


def test_a_directory_person_logs_in_through_the_form(client, org, ldap):
    response = client.post("/login", data={"username": "ann", "password": PASSWORDS["ann"]})
    assert response.status_code == 302 and response.location == "/"
    assert "Ann Lee" in client.get("/").text
    client.post("/logout")
    assert client.post("/login", data={"username": "ann", "password": "wrong"}).status_code == 401
    assert client.post("/login", data={"username": "*", "password": PASSWORDS["ann"]}).status_code == 401
    assert client.post("/login", data={"username": "ann", "password": ""}).status_code == 401


def test_a_directory_that_is_down_answers_503_with_a_message_and_local_accounts_log_in(app, client, org, ldap):
    use_directory(app, f"ldap://127.0.0.1:{free_port()}")
    response = client.post("/login", data={"username": "ann", "password": PASSWORDS["ann"]})
    assert response.status_code == 503
    assert "The directory cannot check your password right now" in html.unescape(response.text)
    assert "Traceback" not in response.text
    login(client, "emma")  # an account created in SealFlow
    assert client.get("/").status_code == 200


def test_the_directory_page_is_for_seal_administrators(client, org, ldap):
    login(client, "emma")
    assert client.get("/admin/directory").status_code == 403
    assert client.post("/admin/directory", data={"apply": "1"}).status_code == 403
    assert db.session.execute(select(User).where(User.directory_dn.is_not(None))).first() is None


def test_preview_then_sync_from_the_page(client, org, ldap):
    login(client, "sam")
    page = html.unescape(client.get("/admin/directory").text)
    assert ldap.url in page and "sealflow-approvers" in page and "0 active, 0 inactive" in page
    assert "Not encrypted: passwords cross the network in clear" in page
    preview = client.post("/admin/directory", data={"preview": "1"})
    text = html.unescape(preview.text)
    assert preview.status_code == 200 and "Preview: what a sync would change" in text and "hugo" in text
    assert "an account created in SealFlow has this username" in text  # emma
    assert accounts.find_user("hugo") is None
    done = client.post("/admin/directory", data={"apply": "1"})
    assert done.status_code == 200 and "Sync done" in done.text and "5 active, 0 inactive" in done.text
    assert accounts.find_user("hugo").display_name == "Hugo Head"
    again = client.post("/admin/directory", data={"apply": "1"})
    assert "Nothing to change." in again.text


def test_a_sync_that_cannot_run_says_why(app, client, org, ldap):
    login(client, "sam")
    use_directory(app, f"ldap://127.0.0.1:{free_port()}")
    response = client.post("/admin/directory", data={"apply": "1"})
    assert response.status_code == 503 and "The sync did not run: the directory cannot be reached" in response.text
    app.config["LDAP_URL"] = ""
    page = client.get("/admin/directory")
    assert page.status_code == 200 and "No directory is configured" in page.text
    response = client.post("/admin/directory", data={"apply": "1"})
    assert response.status_code == 422 and "no directory is configured" in response.text


@pytest.fixture
def checked_page(browser: Browser) -> Iterator[Page]:
    """browsing.strict_page, less Chromium's console line for the missing /favicon.ico (it fails every first page
    of a browser with strict_page as it stands)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico") else None)
    yield page
    page.close()
    assert not errors, "\n".join(errors)


def test_the_page_in_a_browser(app, ldap, live_url, checked_page):
    """Screenshots of the page before a sync, its preview, the sync, and a directory person's login."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = checked_page
    ldap.delete(PEOPLE_ENTRIES["bob"][0])
    browser_login(page, live_url, "sam")
    page.click("#nav-directory")
    page.screenshot(path=SHOTS / "directory.png", full_page=True)
    page.click("#preview")
    assert "Preview: what a sync would change" in page.inner_text("#sync-report")
    page.screenshot(path=SHOTS / "directory-preview.png", full_page=True)
    page.click("#apply")
    assert "Sync done" in page.inner_text("#sync-report")
    assert page.inner_text("#directory-accounts") == "4 active, 0 inactive"
    page.screenshot(path=SHOTS / "directory-synced.png", full_page=True)
    page.click("#language-switch")
    page.screenshot(path=SHOTS / "directory-zh.png", full_page=True)
    page.click("#language-switch")
    page.click("text=Log out")
    page.fill("#username", "ann")
    page.fill("#password", PASSWORDS["ann"])
    page.click("#submit")
    assert page.inner_text(".who") == "Ann Lee"


def test_the_login_page_while_the_directory_is_down(app, ldap, live_url, browser):
    """Not a strict page: Chromium logs the 503 answer as a console error, which is the point here."""
    use_directory(app, f"ldap://127.0.0.1:{free_port()}")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{live_url}/login")
        page.fill("#username", "ann")
        page.fill("#password", PASSWORDS["ann"])
        page.click("#submit")
        assert "The directory cannot check your password right now" in page.inner_text(".flash.error")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "login-directory-down.png", full_page=True)
        page.fill("#username", "emma")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        assert page.inner_text(".who") == "Emma"
    finally:
        page.close()

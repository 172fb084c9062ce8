"""The people pages in Chromium: a seal administrator adds a person and a department, names its head, and imports a
CSV file (dry run, then the real run); the new people log in."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from app.extensions import db
from app.services import accounts, departments
from tests.web.browsing import login

ROSTER = ("username,display_name,department,roles,active,parent_department,head\r\n"
          "zhang.wei,张伟,财务部,employee approver,yes,Finance,yes\r\n"
          "li.na,李娜,财务部,employee,,,\r\n"
          "emma,Emma,Sales,employee approver,,,\r\n"
          "olga,Olga,Office,approver,,,\r\n")


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _log_in_as(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")


def test_an_administrator_adds_a_person_and_a_department_and_imports_a_csv(live_url: str, strict_page: Page,
                                                                            tmp_path: Path):
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-people")
    assert page.inner_text("h1") == "People" and page.is_visible("#user-emma")
    page.fill("#q", "sales")
    page.click("#user-search button")
    assert page.is_visible("#user-harry") and not page.is_visible("#user-olga")
    _shot(page, tmp_path, "users")

    page.click("#new-user")
    page.fill("#username", "chen.jing")
    page.fill("#display_name", "陈静")
    page.select_option("#department_id", label="Office")
    page.check("input[name=roles][value=employee]")
    page.check("input[name=roles][value=approver]")
    _shot(page, tmp_path, "new-user")
    page.click("#submit")
    password = page.inner_text("#password")
    assert len(password) == 19 and "shown only now" in page.inner_text("#password-card")
    _shot(page, tmp_path, "password-once")

    page.click("text=Departments")
    page.fill("#name", "Finance")
    page.select_option("#parent_id", label="Office")
    page.click("#submit")
    assert "Department “Finance” added." in page.inner_text(".flash")
    page.click("#departments >> text=Finance")
    page.select_option("#head_id", label="陈静 (Office)")
    page.click("#submit")
    assert "saved" in page.inner_text(".flash")
    finance = departments.department_named("Finance")
    db.session.expire_all()
    assert finance is not None and finance.head is not None and finance.head.username == "chen.jing"
    _shot(page, tmp_path, "department")

    page.click("#tab-import")
    csv_file = tmp_path / "people.csv"
    csv_file.write_bytes(b"\xef\xbb\xbf" + ROSTER.encode())
    page.set_input_files("#file", str(csv_file))
    page.click("#check")
    assert "2 to create, 1 to change, 1 unchanged, 0 refused" in page.inner_text("#import-summary")
    assert accounts.find_user("zhang.wei") is None  # a dry run changes nothing
    _shot(page, tmp_path, "import-dry-run")
    page.click("#apply")
    assert "Imported" in page.inner_text("#import-report h2")
    passwords = dict(row.split("\t") for row in page.inner_text("#import-passwords tbody").splitlines())
    _shot(page, tmp_path, "import-applied")
    db.session.expire_all()
    zhang = accounts.find_user("zhang.wei")
    assert zhang is not None and zhang.department is not None and zhang.department.parent.name == "Finance"

    page.click("#nav-people")
    page.click("#user-harry >> a")
    assert "Sales" in page.inner_text("#headed")
    _shot(page, tmp_path, "edit-user")
    page.click("#deactivate")
    assert "They head Sales" in page.inner_text("#open-work")
    _shot(page, tmp_path, "deactivate")
    page.click("#confirm-deactivate")
    assert "Sales has no head now" in page.inner_text("main")
    page.click("#reactivate")
    assert "Harry can log in again." in page.inner_text(".flash")

    page.click("#nav-people")
    page.fill("#q", "财务部")
    page.click("#user-search button")
    assert page.is_visible("#user-zhang\\.wei") and page.is_visible("#user-li\\.na")
    page.click("#language-switch")
    _shot(page, tmp_path, "users-zh")
    page.click("nav.tabs >> text=部门")
    _shot(page, tmp_path, "departments-zh")
    page.click("#language-switch")

    page.click("text=Log out")
    _log_in_as(page, live_url, "zhang.wei", passwords["zhang.wei"])
    assert "张伟" in page.inner_text(".who") and page.is_visible("#password-required")
    page.click("text=Log out")
    _log_in_as(page, live_url, "chen.jing", password)
    assert page.url.endswith("/account/password") and page.is_visible("#password-required")
    page.fill("#current", password)
    page.fill("#new", "陈静自己选的新密码 2026")
    page.fill("#repeat", "陈静自己选的新密码 2026")
    _shot(page, tmp_path, "change-password")
    page.click("#submit")
    assert "Your new password is set." in page.inner_text(".flash")
    assert "陈静" in page.inner_text(".who") and not page.is_visible("#nav-people")
    page.click("text=Inbox")
    assert page.url.endswith("/inbox")

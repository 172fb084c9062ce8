"""The seal administrator's flows in a real browser: the list, the modeler with live validation, deployment under
dual control, and the diff."""

from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.extensions import db
from app.models import RoleName
from app.services import accounts
from tests.conftest import PASSWORD
from tests.web.browsing import login, run_worker

SHOTS = Path("/tmp/shots-flows")


@pytest.fixture
def nora(org):
    """A second seal administrator."""
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_modeler_opens_a_shipped_flow_and_finds_no_problems(live_url: str, strict_page: Page):
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-flows")
    assert page.locator("#process-seal_application").is_visible()
    _shot(page, "flows-index")
    page.click("#version-seal_application-1 >> text=Open")
    page.wait_for_selector("#status.ok", timeout=20000)
    assert page.locator(".djs-element[data-element-id=policy_approval]").count() == 1
    _shot(page, "modeler")




def _problems(page: Page) -> str:
    page.wait_for_function("!document.querySelector('#status').textContent.includes('…')")
    return page.inner_text("#problems")


def test_draw_a_flow_see_its_problems_come_and_go_deploy_it_and_a_second_administrator_approves(
        app, live_url: str, strict_page: Page, browser, nora):
    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows")
    page.click("#new-flow")
    page.wait_for_selector("#status.ok")
    # A task appended to the start event with the context pad: SealFlow cannot run a plain task.
    page.click(".djs-element[data-element-id=submitted]")
    page.click(".djs-context-pad [data-action='append.append-task']")
    page.wait_for_selector(".djs-element.sf-problem")
    assert "cannot run a task" in _problems(page)
    # The wrench turns it into a user task; the properties panel offers it to the approvers.
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='replace-with-user-task']")
    page.click("[data-group-id='group-CamundaPlatform__UserAssignment'] .bio-properties-panel-group-header")
    page.fill("#bio-properties-panel-candidateGroups", "approver")
    page.click(".djs-context-pad [data-action='append.end-event']")
    page.wait_for_selector("#status.ok")
    assert page.locator(".djs-element.sf-problem").count() == 0
    _shot(page, "modeler-drawn")
    page.fill("#comment", "a first review flow")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")
    assert "a first review flow" in page.inner_text("#deployment-comment")
    assert page.locator("#withdraw").is_visible()
    _shot(page, "deployment-request")

    other = browser.new_page()
    login(other, live_url, "nora")
    other.click("text=Inbox")
    other.click("text=Review the deployment")
    assert other.locator("#deployment-under-review").is_visible()
    other.check("input[value=approve]")
    other.click("#submit")
    run_worker(app)
    other.goto(f"{live_url}/flows")
    _shot(other, "flows-after-deployment")
    row = other.inner_text("[id^=process-process_] .versions tbody tr")
    assert "a first review flow" in row and "approved by Nora" in row
    other.close()


def _edit_cell(page: Page, rule: str, column: str, text: str) -> None:
    cell = page.locator(f"td[data-row-id={rule}][data-col-id={column}] [contenteditable]")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)
    page.click("h1")  # leave the cell


def test_edit_the_policy_table_see_a_refused_cell_marked_deploy_it_and_compare(app, live_url: str,
                                                                                strict_page: Page, browser, nora):
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-policies")
    _shot(page, "policies-index")
    page.click("#policy-version-1 >> text=Open")
    page.wait_for_selector("#status.ok")
    _edit_cell(page, "contract_over_a_million", "input_amount", "? >= __import__('os').getpid()")
    page.wait_for_selector("#status.error")
    assert "refused" in page.inner_text("#problems")
    assert page.locator("td.sf-problem-cell[data-row-id=contract_over_a_million]").count() > 0
    _shot(page, "policy-editor-problem")
    _edit_cell(page, "contract_over_a_million", "input_amount", "? >= 500000")
    page.wait_for_selector("#status.ok")
    page.fill("#comment", "seal administrators review from 500,000")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")
    page.click("#show-diff")
    assert "? >= 500000" in page.inner_text("#rule-contract_over_a_million")
    _shot(page, "policy-diff")

    other = browser.new_page()
    login(other, live_url, "nora")
    other.click("text=Inbox")
    other.click("text=Review the deployment")
    other.check("input[value=approve]")
    other.click("#submit")
    run_worker(app)
    other.goto(f"{live_url}/policies")
    assert "seal administrators review from 500,000" in other.inner_text("#policy-version-2")
    other.close()

"""The what-if, the back-test and the modeler's warnings in a real browser (Chromium), with screenshots."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page

from app.extensions import db
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, substitutes
from app.services.applications import ApplicationSpec
from tests.conftest import DATA, contract_pdf
from tests.services.test_whatif import LOWER_LEADER
from tests.web.browsing import login
from tests.workflow.test_simulation import row_counts

SHOTS = Path("/tmp/shots-whatif")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _steps(page: Page) -> list[str]:
    return [c.split()[-1] for c in page.locator("#path > li").evaluate_all("items => items.map(i => i.className)")]


def test_the_what_if_shows_the_path_and_runs_again_with_a_decision_and_a_draft(app: Flask, org, live_url: str,
                                                                                 strict_page: Page):
    now = utcnow()
    substitutes.name_substitute(org.head, org.other_approver.id, now - timedelta(hours=1), now + timedelta(days=5),
                                "trade fair", Actor.system("test"))
    db.session.commit()
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-flows")
    before = row_counts()  # after the login, which the audit log records
    page.click("#what-if-link")
    page.select_option("#version", "seal_application@1")
    page.select_option("#document_type", "contract")
    page.fill("#amount", "2,000,000")
    page.select_option("#requester_id", label="Emma")
    page.click("#submit")
    page.wait_for_selector("#what-if-result")
    assert _steps(page) == ["step-user_task"] * 3 + ["step-service_task", "step-end"]
    assert "Olga stands in for Harry" in page.inner_text("#step-1")
    assert "Seal administrators" in page.inner_text("#step-3") and "Sam" in page.inner_text("#step-3")
    _shot(page, "what-if-main-path")

    page.select_option("#decision-1", "return")
    page.click("#rerun")
    page.wait_for_selector("#what-if-result")
    assert page.inner_text("#step-2").startswith("Revise and resubmit")
    assert "Emma (the requester)" in page.inner_text("#step-2")
    _shot(page, "what-if-returned")

    page.check("#policy-1")  # a draft
    page.set_input_files("#draft", files=[{"name": "lower_leader.dmn", "mimeType": "application/xml",
                                           "buffer": LOWER_LEADER}])
    page.fill("#amount", "50,000")
    page.select_option("#decision-1", "approve")
    page.click("#submit")
    page.wait_for_selector("#what-if-result")
    assert "Under a draft seal policy (lower_leader.dmn)" in page.inner_text("#what-if-result")
    assert page.locator("#levels li").count() == 2
    _shot(page, "what-if-draft")
    assert row_counts() == before


def test_the_back_test_reports_the_applications_a_draft_routes_differently(app: Flask, org, live_url: str,
                                                                             strict_page: Page):
    for amount in ("50000", "60000", "500000"):
        applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                                            content=contract_pdf(), reason="supply", amount=Decimal(amount)),
                            org.employee, Actor.system("test"))
    db.session.commit()
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-flows")
    before = row_counts()
    page.click("#back-test-link")
    page.set_input_files("#draft", files=[{"name": "lower_leader.dmn", "mimeType": "application/xml",
                                           "buffer": LOWER_LEADER}])
    page.fill("#months", "6")
    page.click("#submit")
    page.wait_for_selector("#back-test-result")
    assert "3 applications judged: 2 routed differently" in page.inner_text("#counts")
    assert page.locator("#changed tbody tr").count() == 2
    _shot(page, "back-test")
    page.fill("#months", "40")  # the browser refuses it before sending (the server would too: test_whatif.py)
    assert page.eval_on_selector("#months", "input => input.validity.rangeOverflow")
    assert row_counts() == before


def test_the_modeler_marks_tasks_that_could_reach_the_requester_as_warnings(live_url: str, strict_page: Page):
    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows/new")
    page.wait_for_selector("#status.error, #status.ok", timeout=20000)
    page.set_input_files("#open-file", str(DATA / "requester_decides.bpmn"))
    try:
        page.wait_for_selector("#problems li.sf-warning", timeout=20000)
    finally:
        _shot(page, "modeler-warnings")
    assert page.locator("#problems li.sf-warning").count() == 6
    assert page.locator("#problems li.sf-problem").count() == 0
    assert page.locator(".djs-element.sf-warning").count() == 6
    assert "6 warnings" in page.inner_text("#status") and not page.locator("#deploy").is_disabled()
    _shot(page, "modeler-warnings")

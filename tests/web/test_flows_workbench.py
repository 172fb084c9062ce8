"""The seal administrator's flows in a real browser: the list, the modeler with live validation, deployment under
dual control, and the diff."""

from pathlib import Path

from playwright.sync_api import Page

from tests.web.browsing import login

SHOTS = Path("/tmp/shots-flows")


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


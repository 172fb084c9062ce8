"""The application page's history on the diagram in Chromium: an auditor sees the path a returned, resubmitted and
sealed application took (elements done, flows taken, the loop counted), lists an element's events and replays the
history step by step. Screenshots go to /tmp/shots-path/."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from playwright.sync_api import Page

from tests.conftest import Org
from tests.services.test_process_path import _decide, _file
from tests.web.browsing import login, run_worker

SHOTS = Path("/tmp/shots-path")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _marked(page: Page, marker: str) -> list[str]:
    """The ids of the diagram's elements that carry a marker."""
    return page.eval_on_selector_all(f".djs-element.{marker}", "nodes => nodes.map(n => n.dataset.elementId)")


def _data(page: Page) -> dict[str, str]:
    """The replay's process data panel, key by key."""
    return dict(zip(page.locator("#path-data-table tbody th").all_inner_texts(),
                    page.locator("#path-data-table tbody td").all_inner_texts(), strict=True))


def test_an_auditor_follows_the_path_on_the_diagram_and_replays_it(
        app: Flask, org: Org, live_url: str, strict_page: Page):
    application_id = _file(org)
    _decide(org.head, "return")
    _decide(org.employee, "resubmit")
    _decide(org.head, "approve")
    run_worker(app)

    page = strict_page
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_url, "alice")
    page.goto(f"{live_url}/applications/{application_id}")
    page.wait_for_selector("#path-viewer[data-ready=true]")
    # Now: the whole path, the loop through the approval counted, nothing waiting.
    done = _marked(page, "sf-path-done")
    assert {"submitted", "policy_approval", "revise", "stamp_and_sign", "sealed"} <= set(done)
    assert "rejected" not in done and "withdrawn" not in done
    assert {"flow_returned", "flow_resubmitted", "flow_to_sealed"} <= set(_marked(page, "sf-path-taken"))
    assert "flow_rejected" not in _marked(page, "sf-path-taken") and _marked(page, "sf-path-waiting") == []
    assert page.inner_text("[data-container-id=policy_approval] .sf-path-count-badge") == "×2"
    assert page.locator("[data-container-id=revise] .sf-path-count-badge").count() == 0
    steps = page.evaluate("window.sealflowPath.path.steps.length")
    assert page.inner_text("#replay-position").startswith(f"Step {steps} of {steps}")
    assert page.locator("#path-canvas").bounding_box()["height"] >= 420
    _shot(page, "1-path-1280")

    # The wheel over the canvas scrolls the page, not the diagram.
    page.locator("#path-canvas").scroll_into_view_if_needed()
    box = page.locator("#path-canvas").bounding_box()
    viewbox = "JSON.stringify(window.sealflowPath.viewer.get('canvas').viewbox())"
    before, scrolled = page.evaluate(viewbox), page.evaluate("window.scrollY")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 200)
    page.wait_for_timeout(300)  # the page's CSP refuses wait_for_function's eval
    assert page.evaluate("window.scrollY") > scrolled
    assert page.evaluate(viewbox) == before

    # An element's events: both passes through the approval, each decision.
    page.click("[data-element-id=policy_approval]")
    assert "Approvals the seal policy requires" in page.inner_text("#path-element h3")
    events = page.inner_text("#path-element-events")
    assert "Return for revision" in events and "Approve" in events and "return!" in events and "Harry" in events
    assert events.index("Return for revision") < events.index("Approve")
    page.click("[data-element-id=rejected]")
    assert page.locator("#path-element-events li").count() == 0
    assert page.inner_text("#path-element-empty") == "Nothing happened here yet."
    page.click("[data-element-id=flow_returned_label]")  # its label stands for the flow
    assert page.inner_text("#path-element-empty") == "Times this flow was taken: 1"
    page.click("[data-element-id=policy_approval]")
    _shot(page, "2-element-events")

    # The replay: the first step has nothing done; right after the return, the revision waits with the decision in
    # the data; the last step is the path now again.
    page.click("#replay-first")
    assert page.inner_text("#replay-position").startswith(f"Step 1 of {steps}")
    assert _marked(page, "sf-path-done") == [] and page.locator(".sf-path-count-badge").count() == 1  # the legend's
    assert page.is_disabled("#replay-previous") and _data(page)["counterparty"] == "Acme"
    returned = page.evaluate("window.sealflowPath.path.steps.findIndex(s => s.decision === 'Return for revision')")
    for _ in range(returned):
        page.click("#replay-next")
    assert page.inner_text("#replay-position").startswith(f"Step {returned + 1} of {steps}")
    assert _marked(page, "sf-path-waiting") == ["revise"] and "stamp_and_sign" not in _marked(page, "sf-path-done")
    assert _marked(page, "sf-path-current") == ["policy_approval"]
    assert _data(page)["decision"] == "return" and _data(page)["comment"] == "return!"
    assert page.locator("#path-data-table tr.sf-changed-here").count() == 2  # what this step set stands out
    _shot(page, "3-replay-after-return")
    page.focus("#replay-slider")
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#replay-position").startswith(f"Step {returned + 2} of {steps}")
    page.click("#replay-last")
    assert page.inner_text("#replay-position").startswith(f"Step {steps} of {steps}")
    assert set(_marked(page, "sf-path-done")) == set(done) and page.is_disabled("#replay-next")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#path-viewer[data-ready=true]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#path-canvas").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    _shot(page, "4-path-390")

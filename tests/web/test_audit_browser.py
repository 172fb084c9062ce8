"""/audit in Chromium: an auditor filters the log by action, runs the check and sees it intact; after an event is
edited in the database the check lists the problem. The page at 1280 and 390 px wide; screenshots go to
/tmp/shots-audit/."""

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page
from sqlalchemy import text

from app.extensions import db
from app.models.audit import Actor, record
from tests.web.browsing import login

SHOTS = Path("/tmp/shots-audit")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _chain_and_anchor(app: Flask) -> None:
    """`flask audit chain` in a process of its own, as the clock does it (the TSA signs with asyncio.run, which the
    browser's event loop in this thread would refuse)."""
    env = {**os.environ, "SEALFLOW_INSTANCE_PATH": app.instance_path}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "chain"], env=env, check=True,
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert "anchored" in done.stdout, done.stdout


def test_an_auditor_filters_the_log_checks_it_and_sees_tampering(app: Flask, org, live_url: str, strict_page: Page):
    for i in range(3):
        record(Actor(None, "importer", "10.0.0.9"), "thing.made", "thing", i, note=f"made {i}", 名字="印章",
               long="x" * 200)
    db.session.commit()
    _chain_and_anchor(app)

    page = strict_page
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_url, "alice")
    page.click("#nav-audit")
    assert page.inner_text("#chain-waiting").startswith("1")  # alice's login, written after the chain was extended
    assert "#" in page.inner_text("#chain-anchor")
    page.select_option("#action", "thing.made")
    page.click("#filter")
    assert "3 events match" in page.inner_text("#audit-summary")
    assert page.locator("#audit-events tbody tr").count() == 3
    assert page.locator("#audit-events tbody tr").first.locator("td").first.inner_text() != ""

    page.click("#run-check")
    assert "The log is intact" in page.inner_text("#check-result")
    assert page.input_value("#action") == "thing.made"  # the filter stays
    _shot(page, "1-audit-intact-1280")

    db.session.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2"))
    db.session.commit()
    page.click("#run-check")
    problems = page.locator("#check-problems li").all_inner_texts()
    assert any(p.startswith("event #2 ") and "does not match its hash" in p for p in problems), problems
    _shot(page, "2-audit-tampered-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_url}/audit")
    page.locator("#audit-events details").first.click()  # open one event's details
    page.eval_on_selector(".scroll", "box => { box.scrollLeft = 0; }")
    _shot(page, "3-audit-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # the table scrolls inside its box, not the page

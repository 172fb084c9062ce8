"""Browser tests' shared parts: a live server on the test app, Debian's Chromium through Playwright, a page that
fails the test on any JavaScript error or Content-Security-Policy refusal, logging in, and a worker run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_url(app: Flask, org: object) -> Iterator[str]:
    """The test app served on a free port of 127.0.0.1, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def strict_page(browser: Browser) -> Iterator[Page]:
    """A page whose JavaScript errors, CSP refusals (console errors) and missing scripts or styles fail the test when
    it ends."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    # A refused form (422) or page (403) is an answer the test checks; a script or style that fails to load is not.
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and "/static/" in response.url else None)
    yield page
    page.close()
    assert not errors, "\n".join(errors)


def login(page: Page, url: str, username: str) -> None:
    """Log in through the login form with the demo password."""
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")


def run_worker(app: Flask) -> None:
    """A worker process of its own, as in production (same instance folder, database and Redis), until the queue is
    empty (pyHanko signs with asyncio.run, which the browser's event loop in this thread would refuse)."""
    env = {**os.environ, "SEALFLOW_INSTANCE_PATH": app.instance_path}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], env=env, check=True,
                   cwd=Path(__file__).resolve().parents[2], capture_output=True)

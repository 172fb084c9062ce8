"""Fixtures of the web tests (the browser's live server, Chromium and a strict page) from tests/web/browsing.py."""

from tests.web.browsing import browser, live_url, strict_page

__all__ = ["browser", "live_url", "strict_page"]

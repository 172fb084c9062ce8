"""The web tier's baseline: security headers on every answer, and the redirect targets SealFlow accepts."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urlsplit

from flask import Flask, Response, current_app

# Pages load only SealFlow's own scripts, styles and images (no inline code: see STYLE.md), are framed by nobody,
# and submit forms only to SealFlow. Seal previews are PNGs served by SealFlow itself.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def local_path(target: str | None) -> str | None:
    """The target when it is a path on this site, else None. Browsers drop tabs and newlines inside URLs and read a
    backslash as a slash, so `/\\t/evil.example` would leave the site: any such character refuses the target."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(c == "\\" or unicodedata.category(c).startswith("C") for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def attachment(filename: str, suffix: str = ".pdf") -> str:
    """A Content-Disposition for a download (RFC 6266): an ASCII name without quotes, separators or controls, and
    the full name percent-encoded in filename*; a user's filename never adds parameters of its own, and always
    ends in the suffix of what is served (a PDF is never saved as `invoice.html`)."""
    cleaned = "".join(c for c in filename if not unicodedata.category(c).startswith("C")).strip()
    cleaned = cleaned.replace("/", "_").replace("\\", "_")[:150] or "document"
    if not cleaned.lower().endswith(suffix):
        cleaned += suffix
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_. ()") else "_" for c in cleaned)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["PUBLIC_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every answer; mark the session cookie Secure when SealFlow is served over https."""
    if app.config["PUBLIC_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.after_request(_headers)

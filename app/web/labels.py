"""Translated labels for values shown in the pages (statuses, document types, HTTP errors)."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.web.forms import DOCUMENT_TYPE_LABELS, SEAL_KIND_LABELS

STATUS_LABELS = {
    "pending": _l("Pending approval"), "rejected": _l("Rejected"), "sealing": _l("Being sealed"),
    "sealed": _l("Sealed"), "failed": _l("Failed"),
}
SEAL_STATUS_LABELS = {"active": _l("Active"), "suspended": _l("Suspended"), "revoked": _l("Revoked")}
VERDICT_LABELS = {
    "valid": _l("Valid"), "invalid": _l("Invalid"), "untrusted": _l("Not trusted"), "revoked": _l("Revoked"),
    "modified": _l("Changed after signing"), "unsigned": _l("Not signed"),
}
STATUS_TITLES = {
    400: _l("Bad request"), 401: _l("Not logged in"), 403: _l("Not allowed"), 404: _l("Not found"),
    409: _l("Already done"), 413: _l("Upload too large"), 422: _l("Cannot accept this"), 500: _l("Server error"),
}


def template_helpers() -> dict[str, Any]:
    """Names every template can use."""
    return {
        "current_locale": str(get_locale() or "en"),
        "status_label": lambda value: STATUS_LABELS.get(value, value),
        "document_type_label": lambda value: DOCUMENT_TYPE_LABELS.get(value, value),
        "status_title": lambda code: STATUS_TITLES.get(code, str(code)),
        "verdict_label": lambda value: VERDICT_LABELS.get(value, value),
        "seal_kind_label": lambda value: SEAL_KIND_LABELS.get(value, value),
        "seal_status_label": lambda value: SEAL_STATUS_LABELS.get(value, value),
    }

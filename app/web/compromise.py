"""A revoked seal's compromise report, for auditors and seal administrators: the documents it sealed since a time
(the page, a CSV) and the draft invalidation notice (作废声明) as a PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from app.errors import InvalidInput, MalformedRequest
from app.services import compromise, seals
from app.web.guards import me
from app.web.labels import DOCUMENT_TYPE_LABELS
from app.web.security import attachment

bp = Blueprint("compromise", __name__)
LOOKBACK_DAYS = compromise.DEFAULT_LOOKBACK.days


def _document_type(value: str) -> str:
    return str(DOCUMENT_TYPE_LABELS.get(value, value))


def _exposure(seal_id: int) -> compromise.Exposure:
    """The report from the start the query string gives; MalformedRequest (400) saying what is wrong with it."""
    compromise.check_reader(me())  # refused before the start is read
    try:
        return compromise.exposure(seal_id, compromise.since_of(request.args.get("since")), me())
    except InvalidInput as exc:
        raise MalformedRequest(_("The start cannot be read: %(problem)s", problem=exc.message)) from exc


@bp.get("/seals/<int:seal_id>/compromise")
@login_required
def report(seal_id: int) -> Any:
    """The report on its own page, for any revoked seal (a key-compromise revocation shows it on the seal's page)."""
    try:
        found = _exposure(seal_id)
    except MalformedRequest as exc:
        return render_template("seals/compromise.html", seal=seals.get_seal(seal_id), report=None,
                               problem=exc.message, lookback_days=LOOKBACK_DAYS), exc.status
    return render_template("seals/compromise.html", seal=found.seal, report=found, lookback_days=LOOKBACK_DAYS)


def _filename(found: compromise.Exposure, suffix: str) -> str:
    return f"compromise-{found.seal.id}-{found.since:%Y%m%d}{suffix}"


@bp.get("/seals/<int:seal_id>/compromise/exposure.csv")
@login_required
def exposure_csv(seal_id: int) -> Any:
    found = _exposure(seal_id)
    headers = {"sealed_at": _("Sealed (UTC)"), "application_id": _("Application"), "title": _("Document title"),
               "counterparty": _("Counterparty"), "document_type": _("Document type"), "requester": _("Requester"),
               "filename": _("File"), "version": _("Version"), "sha256": _("SHA-256 of the sealed document")}
    return Response(compromise.exposure_csv(found, headers, _document_type), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(_filename(found, ".csv"), ".csv"),
                             "Cache-Control": "no-store"})


@bp.get("/seals/<int:seal_id>/compromise/notice.pdf")
@login_required
def notice_pdf(seal_id: int) -> Any:
    found = _exposure(seal_id)
    return Response(compromise.draft_notice(found, me(), _document_type), mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(_filename(found, "-notice.pdf")),
                             "Cache-Control": "no-store"})

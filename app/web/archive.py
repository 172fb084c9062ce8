"""The archive (/archive): every application, searched, sorted and paged, and exported as CSV or XLSX, for auditors,
seal administrators and department heads (who see their departments' people's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.errors import ExportTooLarge, MalformedRequest
from app.models import RoleName, User
from app.models.timestamps import utcnow
from app.services import accounts, archive, seals
from app.web.archive_forms import CRITERIA, ArchiveSearchForm
from app.web.forms import DOCUMENT_TYPE_LABELS
from app.web.guards import me, role_required
from app.web.labels import STATUS_LABELS, process_label
from app.web.security import attachment

bp = Blueprint("archive", __name__)
signed_in = role_required(*RoleName)
# A column's first click sorts newest, largest or latest first; text from A.
DESCENDING_FIRST = frozenset({"id", "filed", "amount", "sealed"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_context_processor
def _archive_link() -> dict[str, Any]:
    """base.html shows the Archive link to whoever may open it (asked only when the top bar is drawn)."""
    return {"archive_allowed": lambda: current_user.is_authenticated and archive.can_search(current_user)}


def _form(user: User) -> ArchiveSearchForm:
    """The search form on the query string; a department head chooses among the departments they see."""
    scope = archive.visible_departments(user)  # PermissionDenied for anyone else
    form = ArchiveSearchForm(request.args)
    form.department_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(d.id), d.name) for d in accounts.list_departments() if scope is None or d.id in scope]
    form.seal_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(s.id), s.name) for s in seals.list_seals()]
    return form


def _problems(form: ArchiveSearchForm) -> str:
    return "; ".join(f"{getattr(form, name).label.text}: {' '.join(map(str, errors))}"
                     for name, errors in form.errors.items())


def _criteria() -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k in CRITERIA and v}


@bp.get("/archive")
@signed_in
def index() -> Any:
    form = _form(me())
    if not form.validate():
        return render_template("archive/index.html", form=form, found=None, criteria=_criteria()), 400
    search = form.search()
    return render_template("archive/index.html", form=form, found=archive.search_archive(search, me()),
                           search=search, criteria=_criteria(), descending_first=DESCENDING_FIRST)


def _labels() -> archive.ExportLabels:
    headers = {
        "id": _("No."), "filed_at": _("Filed (UTC)"), "title": _("Document title"), "counterparty": _("Counterparty"),
        "document_type": _("Document type"), "amount": _("Amount"), "copies": _("Copies"),
        "requester": _("Requester"), "department": _("Department"), "seal": _("Seal"),
        "process": _("Approval process"), "status": _("Status"), "sealed_at": _("Sealed (UTC)"),
        "original_sha256": _("SHA-256 of the original"),
    }
    return archive.ExportLabels(headers=headers, status=lambda v: str(STATUS_LABELS.get(v, v)),
                                document_type=lambda v: str(DOCUMENT_TYPE_LABELS.get(v, v)), process=process_label)


def _export(build: Callable[[list[archive.ArchiveRow], archive.ExportLabels], bytes], mimetype: str,
            suffix: str) -> Any:
    form = _form(me())
    if not form.validate():
        raise MalformedRequest(_problems(form))
    try:
        rows = archive.export_rows(form.search(), me())
    except ExportTooLarge as exc:
        flash(_("The search finds %(total)s applications; an export holds at most %(limit)s. Narrow the search.",
                total=exc.total, limit=exc.limit), "error")
        return redirect(url_for("archive.index", **_criteria()))
    name = f"sealflow-archive-{utcnow():%Y%m%d-%H%M}{suffix}"
    return Response(build(rows, _labels()), mimetype=mimetype,
                    headers={"Content-Disposition": attachment(name, suffix), "Cache-Control": "no-store"})


@bp.get("/archive/export.csv")
@signed_in
def export_csv() -> Any:
    return _export(archive.export_csv, "text/csv; charset=utf-8", ".csv")


@bp.get("/archive/export.xlsx")
@signed_in
def export_xlsx() -> Any:
    return _export(lambda rows, labels: archive.export_xlsx(rows, labels, _("Archive")), XLSX, ".xlsx")

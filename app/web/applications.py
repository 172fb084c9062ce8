"""The employee's pages: file an application, follow it, download the sealed PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidDocument, InvalidInput, NotFound, PolicyViolation
from app.extensions import db
from app.models import DocumentKind, RoleName
from app.services import applications, audit, documents, sealing, seals
from app.web.forms import ApplicationForm
from app.web.guards import actor, me, role_required

bp = Blueprint("applications", __name__)
ANY_ROLE = tuple(RoleName)


@bp.get("/")
@role_required(*ANY_ROLE)
def index() -> Any:
    return render_template("applications/index.html", applications=applications.applications_of(me()))


@bp.route("/applications/new", methods=["GET", "POST"])
@role_required(RoleName.EMPLOYEE)
def new() -> Any:
    form = ApplicationForm()
    form.seal_id.choices = [SelectChoice(str(s.id), s.name) for s in seals.list_seals() if s.is_usable]
    if not form.validate_on_submit():
        return render_template("applications/new.html", form=form), 422 if form.is_submitted() else 200
    upload = form.document.data
    spec = applications.ApplicationSpec(
        seal_id=form.seal_id.data or 0, document_type=form.document_type.data or "",
        filename=upload.filename or "document.pdf", content=upload.read(), reason=form.reason.data or "",
        seal_page=form.seal_page.data if form.seal_page.data is not None else -1,
        seal_keyword=form.seal_keyword.data or "", riding_seal=form.riding_seal.data,
        watermark=form.watermark.data,
    )
    try:
        submitted = applications.submit(spec, me(), actor())
    except (InvalidDocument, InvalidInput, PolicyViolation) as exc:
        db.session.rollback()  # nothing of the refused application is kept
        flash(exc.message, "error")
        return render_template("applications/new.html", form=form), exc.status
    db.session.commit()
    application = submitted.application
    flash(_("Application #%(id)s submitted.", id=application.id), "success")
    if submitted.repairs:
        flash(_("The PDF was damaged and has been repaired; check the sealed result carefully."), "warning")
    return redirect(url_for("applications.detail", application_id=application.id))


@bp.get("/applications/<int:application_id>")
@role_required(*ANY_ROLE)
def detail(application_id: int) -> Any:
    application = applications.viewable_application(application_id, me())
    return render_template(
        "applications/detail.html", application=application, tasks=applications.approval_steps(application),
        events=audit.events_for("seal_application", application.id),
        verification_url=sealing.verification_url(application.id),
    )


@bp.get("/applications/<int:application_id>/documents/<kind>")
@role_required(*ANY_ROLE)
def document(application_id: int, kind: str) -> Any:
    application = applications.viewable_application(application_id, me())
    try:
        found = application.document(DocumentKind(kind))
    except ValueError as exc:
        raise InvalidInput(f"unknown document kind {kind!r}") from exc
    if found is None:
        raise NotFound(f"application {application_id} has no {kind} document yet")
    return Response(
        documents.read_content(found), mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )

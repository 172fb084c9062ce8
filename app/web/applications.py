"""The employee's pages: file an application, follow it, download the sealed PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidDocument, InvalidInput, NotFound, PolicyViolation
from app.extensions import db
from app.models import DocumentKind, RoleName
from app.services import accounts, applications, audit, documents, gate, sealing, seals
from app.web.forms import ApplicationForm
from app.web.guards import actor, me, role_required
from app.web.history import process_history
from app.web.security import attachment
from app.workflow import WorkflowFailed

bp = Blueprint("applications", __name__)
ANY_ROLE = tuple(RoleName)


def _application_form() -> ApplicationForm:
    """The filing form with today's seals and people as its choices: the seals this employee may request; for the
    parties, any usable seal (the service checks that each party holds theirs)."""
    form = ApplicationForm()
    usable = [SelectChoice(str(s.id), s.name) for s in seals.list_seals() if s.is_usable]
    people = accounts.list_active_users()
    form.seal_id.choices = [SelectChoice(str(s.id), s.name) for s in seals.requestable_seals(me())]
    form.countersigner_ids.choices = [SelectChoice(str(u.id), u.display_name) for u in people if u.id != me().id]
    for row in form.parties:
        row.form.user_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(u.id), u.display_name) for u in people]
        row.form.seal_id.choices = [SelectChoice("", "—"), *usable]
    return form


def _spec(form: ApplicationForm) -> applications.ApplicationSpec:
    upload = form.document.data
    process_id = form.process_id.data or "seal_application"
    return applications.ApplicationSpec(
        seal_id=form.seal_id.data or 0, document_type=form.document_type.data or "",
        filename=upload.filename or "document.pdf", content=upload.read(), reason=form.reason.data or "",
        seal_page=form.seal_page.data if form.seal_page.data is not None else -1,
        seal_keyword=form.seal_keyword.data or "", riding_seal=form.riding_seal.data,
        watermark=form.watermark.data, amount=form.amount.data, process_id=process_id,
        countersigner_ids=tuple(form.countersigner_ids.data or ()) if process_id == "countersign" else (),
        parties=form.party_pairs() if process_id == "multi_party_signing" else (),
        submission_token=form.submission_token.data or None,
    )


@bp.get("/")
@role_required(*ANY_ROLE)
def index() -> Any:
    return render_template("applications/index.html", applications=applications.applications_of(me()))


@bp.route("/applications/new", methods=["GET", "POST"])
@role_required(RoleName.EMPLOYEE)
def new() -> Any:
    form = _application_form()
    if not form.validate_on_submit():
        return render_template("applications/new.html", form=form), 422 if form.is_submitted() else 200
    try:
        submitted = applications.submit(_spec(form), me(), actor())
    except (InvalidDocument, InvalidInput, PolicyViolation, NotFound, WorkflowFailed) as exc:
        db.session.rollback()  # nothing of the refused application is kept
        flash(exc.message, "error")
        return render_template("applications/new.html", form=form), exc.status
    db.session.commit()
    application = submitted.application
    if submitted.again:
        flash(_("This form was already sent: application #%(id)s.", id=application.id), "warning")
        return redirect(url_for("applications.detail", application_id=application.id))
    flash(_("Application #%(id)s submitted.", id=application.id), "success")
    if submitted.repairs:
        flash(_("The PDF was damaged and has been repaired; check the sealed result carefully."), "warning")
    return redirect(url_for("applications.detail", application_id=application.id))


@bp.get("/applications/<int:application_id>")
@role_required(*ANY_ROLE)
def detail(application_id: int) -> Any:
    application = applications.viewable_application(application_id, me())
    steps = applications.approval_steps(application)
    return render_template(
        "applications/detail.html", application=application, tasks=steps, levels=gate.level_states(application),
        events=audit.events_for("seal_application", application.id),
        process_events=process_history(application, steps),
        verification_url=sealing.verification_url(application.id),
        can_withdraw=applications.can_withdraw(me(), application),
    )


@bp.post("/applications/<int:application_id>/withdraw")
@role_required(*ANY_ROLE)
def withdraw(application_id: int) -> Any:
    application = applications.withdraw(application_id, me(), actor())
    db.session.commit()
    flash(_("Application #%(id)s withdrawn.", id=application.id), "success")
    return redirect(url_for("applications.detail", application_id=application.id))


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
        headers={"Content-Disposition": attachment(found.filename)},
    )

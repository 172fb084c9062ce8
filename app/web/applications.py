"""The employee's pages: file an application, follow it, download the sealed PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidDocument, InvalidInput, NotFound, PolicyViolation
from app.extensions import db
from app.models import DocumentKind, RoleName
from app.services import applications, archive, audit, documents, filing, gate, sealing, seals
from app.web.forms import ApplicationForm
from app.web.guards import actor, me, role_required
from app.web.history import process_history
from app.web.labels import DOCUMENT_TYPE_LABELS, decision_label
from app.web.security import attachment
from app.workflow import WorkflowFailed

bp = Blueprint("applications", __name__)
ANY_ROLE = tuple(RoleName)


def _application_form(offer: filing.Offer) -> ApplicationForm:
    """The fixed part of the filing form, offering the seals this employee may request with the process."""
    form = ApplicationForm()
    form.seal_id.choices = [SelectChoice(str(s.id), s.name) for s in filing.seals_for(offer.filing, me())]
    for f in offer.filing.fields:
        if f.id in applications.PROCESS_COLUMNS:  # the process asks for it in its own words
            delattr(form, f.id)
    return form


def _posted_fields(offer: filing.Offer) -> dict[str, Any]:
    """The process's own fields as posted: one value, the ids chosen (users), or (person, seal) rows (parties)."""
    values: dict[str, Any] = {}
    for f in offer.filing.fields:
        if f.type == "users":
            values[f.id] = request.form.getlist(f.id)
        elif f.type == "parties":
            values[f.id] = list(zip(request.form.getlist(f"{f.id}-user"), request.form.getlist(f"{f.id}-seal"),
                                    strict=False))
        else:
            values[f.id] = request.form.get(f.id, "")
    return values


def _form_page(offer: filing.Offer, form: ApplicationForm, values: dict[str, Any], status: int = 200) -> Any:
    people = filing.choosable_people(me())
    party_seals = [s for s in seals.list_seals() if s.is_usable]
    return render_template("applications/new.html", offer=offer, form=form, values=values, people=people,
                           party_seals=party_seals), status


def _spec(form: ApplicationForm, offer: filing.Offer, values: dict[str, Any]) -> applications.ApplicationSpec:
    upload = form.document.data
    return applications.ApplicationSpec(
        seal_id=form.seal_id.data or 0, document_type=form.document_type.data or "",
        filename=upload.filename or "document.pdf", content=upload.read(), reason=form.reason.data or "",
        seal_page=form.seal_page.data if form.seal_page.data is not None else -1,
        seal_keyword=form.seal_keyword.data or "", riding_seal=form.riding_seal.data,
        watermark=form.watermark.data, amount=form.amount.data, process_id=offer.process_id, fields=values,
        submission_token=form.submission_token.data or None,
        title=form.title.data or "" if form.title else "",
        counterparty=form.counterparty.data or "" if form.counterparty else "",
        copies=form.copies.data or 1 if form.copies else 1,
    )


@bp.get("/")
@role_required(*ANY_ROLE)
def index() -> Any:
    """The user's own applications; someone who files none but may search the archive (an auditor) lands there."""
    own = applications.applications_of(me())
    searches = archive.can_search(me())
    if not own and searches and not me().has_role(RoleName.EMPLOYEE):
        return redirect(url_for("archive.index"))
    return render_template("applications/index.html", applications=own, archive_link=searches)


@bp.get("/applications/new")
@role_required(RoleName.EMPLOYEE)
def new() -> Any:
    """The processes this employee may file on; with one (or one chosen), its filing form."""
    chosen = request.args.get("process", "")
    offers = filing.offers(me()) if not chosen else []
    if not chosen and len(offers) != 1:
        return render_template("applications/choose.html", offers=offers)
    offer = filing.offer(chosen or offers[0].process_id, me())
    form = _application_form(offer)
    form.process_id.data = offer.process_id
    return _form_page(offer, form, {f.id: f.default for f in offer.filing.fields})


@bp.post("/applications/new")
@role_required(RoleName.EMPLOYEE)
def file() -> Any:
    offer = filing.offer(request.form.get("process_id") or "seal_application", me())
    form = _application_form(offer)
    values = _posted_fields(offer)
    if not form.validate_on_submit():
        return _form_page(offer, form, values, 422)
    try:
        submitted = applications.submit(_spec(form, offer, values), me(), actor())
    except (InvalidDocument, InvalidInput, PolicyViolation, NotFound, WorkflowFailed) as exc:
        db.session.rollback()  # nothing of the refused application is kept
        flash(exc.message, "error")
        return _form_page(offer, form, values, exc.status)
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
    events = audit.events_for("seal_application", application.id)
    trail = audit.check_trail(events + audit.events_for("process_instance", applications.process_of(application).id))
    return render_template(
        "applications/detail.html", application=application, tasks=steps, levels=gate.level_states(application),
        events=events, trail=trail,
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


@bp.get("/applications/<int:application_id>/certificate.pdf")
@role_required(*ANY_ROLE)
def certificate(application_id: int) -> Any:
    """The certificate of completion of a sealed application, signed by the system seal."""
    from app.services.certificate import certificate_of_completion  # the PDF stack: loaded when first asked for

    pdf = certificate_of_completion(application_id, me(), decision_label,
                                    lambda value: str(DOCUMENT_TYPE_LABELS.get(value, value)))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(f"certificate-of-completion-{application_id}.pdf")})


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

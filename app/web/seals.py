"""The seal registry: everyone who works with seals sees it; seal administrators add, suspend and revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import RevocationReason, RoleName, Seal, SealKind, SealStatus
from app.pdf import SealImageSpec
from app.services import accounts, seals
from app.web.forms import SealForm, SealHoldersForm, SealStatusForm
from app.web.guards import actor, me, role_required

bp = Blueprint("seals", __name__)


@bp.get("/seals")
@role_required(*RoleName)
def index() -> Any:
    return render_template("seals/index.html", seals=seals.list_seals(), status_form=SealStatusForm())


@bp.get("/seals/<int:seal_id>/preview.png")
@role_required(*RoleName)
def preview(seal_id: int) -> Any:
    return Response(seals.preview_png(seals.get_seal(seal_id)), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})


def _department_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(d.id), d.name) for d in accounts.list_departments()]


@bp.route("/seals/new", methods=["GET", "POST"])
@role_required(RoleName.SEAL_ADMIN)
def new() -> Any:
    form = SealForm()
    form.department_id.choices = _department_choices()
    if not form.validate_on_submit():
        return render_template("seals/new.html", form=form), 422 if form.is_submitted() else 200
    upload = form.image.data
    image: SealImageSpec | bytes = upload.read() if upload else SealImageSpec(
        organisation=form.organisation.data or "", purpose=form.purpose.data or "", serial=form.serial.data or "",
        shape=form.shape.data)
    department = accounts.get_department(int(form.department_id.data)) if form.department_id.data else None
    try:
        seal = seals.create_seal(form.name.data or "", SealKind(form.kind.data), image, actor(), department)
    except InvalidInput as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("seals/new.html", form=form), exc.status
    db.session.commit()
    flash(_("Seal “%(name)s” added, with its own key and certificate.", name=seal.name), "success")
    return redirect(url_for("seals.index"))


@bp.post("/seals/<int:seal_id>/status")
@role_required(RoleName.SEAL_ADMIN)
def change_status(seal_id: int) -> Any:
    form = SealStatusForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(error) for error in errors), "error")
        return redirect(url_for("seals.index"))
    reason = RevocationReason(form.revocation_reason.data) if form.revocation_reason.data else None
    try:
        seal = seals.set_status(seal_id, SealStatus(form.status.data), actor(), reason, form.revocation_note.data or "")
    except (PolicyViolation, InvalidInput) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("seals.index"))
    db.session.commit()
    flash(_("Seal “%(name)s” is now %(status)s.", name=seal.name, status=seal.status.value), "success")
    return redirect(url_for("seals.index"))


def _holders_form(seal: Seal) -> SealHoldersForm:
    """The form with today's people and departments, filled with the seal's holders."""
    people = [SelectChoice(str(u.id), u.display_name) for u in accounts.list_active_users()]
    form = SealHoldersForm(data={"owner_id": seal.owner_user_id, "custodian_ids": [u.id for u in seal.custodians],
                                 "department_ids": [d.id for d in seal.user_departments],
                                 "user_ids": [u.id for u in seal.user_people]})
    form.owner_id.choices = [SelectChoice("", "—"), *people] if seal.kind in seals.OWNED_KINDS else [
        SelectChoice("", "—")]
    form.custodian_ids.choices = form.user_ids.choices = people
    form.department_ids.choices = [SelectChoice(str(d.id), d.name) for d in accounts.list_departments()]
    return form


@bp.route("/seals/<int:seal_id>", methods=["GET", "POST"])
@role_required(*RoleName)
def detail(seal_id: int) -> Any:
    """Who a seal belongs to, who keeps it and who may request it; seal administrators change them."""
    seal = seals.get_seal(seal_id)
    form = _holders_form(seal)
    if form.is_submitted() and not me().has_role(RoleName.SEAL_ADMIN):
        raise PermissionDenied("only seal administrators change who holds a seal")
    if not form.validate_on_submit():
        return render_template("seals/detail.html", seal=seal, form=form), 422 if form.is_submitted() else 200
    spec = seals.HoldersSpec(owner_id=form.owner_id.data, custodian_ids=tuple(form.custodian_ids.data or ()),
                             department_ids=tuple(form.department_ids.data or ()),
                             user_ids=tuple(form.user_ids.data or ()))
    seals.set_holders(seal.id, spec, actor())
    db.session.commit()
    flash(_("Who holds “%(name)s” is saved.", name=seal.name), "success")
    return redirect(url_for("seals.detail", seal_id=seal.id))

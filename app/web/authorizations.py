"""A leader's signature authorizations (签字授权): grant one (a letter signed with their seal), see its uses,
revoke it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import RoleName
from app.services import accounts, authorizations, filing, seals
from app.web.forms import GrantForm
from app.web.guards import actor, me, role_required
from app.web.labels import diagram_text
from app.web.security import attachment

bp = Blueprint("authorizations", __name__)


def _grant_form() -> GrantForm:
    form = GrantForm()
    form.seal_id.choices = [SelectChoice(str(s.id), s.name) for s in seals.list_seals()
                            if s.owner_user_id == me().id and s.is_usable]
    form.department_ids.choices = [SelectChoice(str(d.id), d.name) for d in accounts.list_departments()]
    form.process_ids.choices = [SelectChoice(p, diagram_text(name)) for p, name in filing.startable_processes()]
    return form


def _spec(form: GrantForm) -> authorizations.GrantSpec:
    return authorizations.GrantSpec(
        seal_id=form.seal_id.data or 0, valid_from=form.valid_from.data, valid_until=form.valid_until.data,
        uses=form.uses.data or 0, process_ids=tuple(form.process_ids.data or ()),
        document_types=tuple(form.document_types.data or ()), department_ids=tuple(form.department_ids.data or ()),
        amount_ceiling=form.amount_ceiling.data, note=form.note.data or "")


@bp.route("/authorizations", methods=["GET", "POST"])
@role_required(RoleName.LEADER)
def index() -> Any:
    form = _grant_form()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            granted = authorizations.grant(_spec(form), me(), actor())
        except (InvalidInput, PermissionDenied, PolicyViolation) as exc:
            db.session.rollback()
            flash(exc.message, "error")
            status = exc.status
        else:
            db.session.commit()
            flash(_("Authorization #%(id)s granted; its letter is signed with your seal.", id=granted.id), "success")
            return redirect(url_for("authorizations.index"))
    grants = authorizations.authorizations_of(me())
    return render_template("authorizations/index.html", form=form, grants=grants,
                           uses={g.id: authorizations.uses_of(g) for g in grants},
                           departments={d.id: d.name for d in accounts.list_departments()}), status


@bp.post("/authorizations/<int:authorization_id>/revoke")
@role_required(RoleName.LEADER)
def revoke(authorization_id: int) -> Any:
    authorizations.revoke(authorization_id, me(), actor())
    db.session.commit()
    flash(_("Authorization #%(id)s is revoked: from now on your signature needs your own decision.",
            id=authorization_id), "success")
    return redirect(url_for("authorizations.index"))


@bp.get("/authorizations/<int:authorization_id>/letter.pdf")
@role_required(*RoleName)
def letter(authorization_id: int) -> Any:
    found = authorizations.get_authorization(authorization_id)
    if not authorizations.can_see(me(), found):
        raise NotFound(f"authorization {authorization_id} does not exist")
    return Response(authorizations.letter_of(found), mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(f"authorization-{found.id}.pdf")})

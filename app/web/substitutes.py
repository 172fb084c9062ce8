"""Away: naming a substitute who acts for you during a period, and ending it early."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput
from app.extensions import db
from app.models import RoleName
from app.models.timestamps import utcnow
from app.services import accounts, substitutes
from app.web.forms import SubstituteForm
from app.web.guards import actor, me

bp = Blueprint("substitutes", __name__)
TIME = "%Y-%m-%d %H:%M"


@bp.route("/away", methods=["GET", "POST"])
@login_required
def index() -> Any:
    form = SubstituteForm()
    form.substitute_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(u.id), u.display_name) for u in accounts.list_active_users()
        if u.id != me().id and not u.has_role(RoleName.AUDITOR)]  # auditors never decide
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            named = substitutes.name_substitute(me(), form.substitute_id.data or 0, form.starts_at.data,
                                                form.ends_at.data, form.reason.data or "", actor())
        except InvalidInput as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("%(name)s acts for you from %(start)s to %(end)s (UTC).", name=named.substitute.display_name,
                    start=named.starts_at.strftime(TIME), end=named.ends_at.strftime(TIME)), "success")
            return redirect(url_for("substitutes.index"))
    return render_template("substitutes/index.html", form=form, substitutions=substitutes.substitutions_of(me()),
                           now=utcnow()), status


@bp.post("/away/<int:substitution_id>/end")
@login_required
def end(substitution_id: int) -> Any:
    ended = substitutes.end_substitution(substitution_id, me(), actor())
    db.session.commit()
    flash(_("%(name)s no longer acts for you.", name=ended.substitute.display_name), "success")
    return redirect(url_for("substitutes.index"))

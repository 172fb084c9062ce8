"""One's own account: choosing a new password. Someone whose password another person set (a seal administrator,
a script, an import) chooses their own before any other page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from app.errors import InvalidInput
from app.extensions import db
from app.services import accounts
from app.web.guards import actor, me
from app.web.people_forms import ChangePasswordForm

bp = Blueprint("account", __name__)
# What a person who must choose a password may still open.
_ALLOWED = {"account.password", "auth.logout", "auth.set_language", "static"}


@bp.before_app_request
def _own_password_first() -> Any:
    # The endpoint first: a stylesheet needs no user loaded.
    if (request.endpoint not in _ALLOWED and current_user.is_authenticated
            and current_user.password_change_required):
        return redirect(url_for("account.password"))
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(me(), form.current.data or "", form.new.data or "", actor())
        except InvalidInput as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            login_user(me())  # every session ended with the old password; this one goes on with the new one
            flash(_("Your new password is set. Your other sessions have ended."), "success")
            return redirect(url_for("applications.index"))
    return render_template("account/password.html", form=form,
                           required=me().password_change_required), 422 if form.is_submitted() else 200

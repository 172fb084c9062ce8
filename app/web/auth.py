"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from app.errors import DirectoryRefused, DirectoryUnavailable
from app.extensions import db
from app.models.audit import record
from app.services import accounts
from app.web.forms import LoginForm
from app.web.guards import actor, me
from app.web.security import local_path

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only paths on this site: never redirect a login to another one.
    return local_path(target) or url_for("applications.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    status = 200 if request.method == "GET" else 401
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.username.data or "", form.password.data or "", request.remote_addr)
        except accounts.LoginThrottled as exc:
            db.session.commit()  # the refusal is audited
            flash(_("Too many failed logins. Try again in %(minutes)s minutes.", minutes=exc.minutes), "error")
            return render_template("auth/login.html", form=form), 429
        except (DirectoryUnavailable, DirectoryRefused) as exc:
            db.session.commit()  # the attempt is audited, and logged by the service
            flash(_("The directory cannot check your password right now. Please try again in a few minutes; "
                    "if it persists, tell your administrator."), "error")
            return render_template("auth/login.html", form=form), exc.status
        db.session.commit()
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    record(actor(), "logout", "user", actor().user_id)
    accounts.end_sessions(me(), actor())  # every session of the user, a copied cookie's too
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/language/<code>")
def set_language(code: str) -> Any:
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))

"""People, for seal administrators: the users list and search, creating and editing a person, deactivating and
reactivating, resetting a password, and the CSV import."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput
from app.extensions import db
from app.models import RoleName, User
from app.services import accounts, people, people_import
from app.web.guards import actor, me, role_required
from app.web.people_forms import (
    DEPARTMENT_ACTION_LABELS,
    FIELD_LABELS,
    OUTCOME_LABELS,
    ROLE_NAMES,
    ConfirmForm,
    ImportForm,
    PasswordForm,
    UserEditForm,
    UserForm,
    UserSearchForm,
    chosen_roles,
)

bp = Blueprint("people", __name__, url_prefix="/admin")
admin_only = role_required(RoleName.SEAL_ADMIN)
# A page showing a password is never kept by the browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"role_names": ROLE_NAMES, "field_labels": FIELD_LABELS, "outcome_labels": OUTCOME_LABELS,
            "department_action_labels": DEPARTMENT_ACTION_LABELS}


def department_choices() -> list[SelectChoice]:
    """Every department for a select, with "none" first."""
    return [SelectChoice("", "—")] + [SelectChoice(str(d.id), d.name) for d in accounts.list_departments()]


def _refused(exc: InvalidInput, template: str, **context: Any) -> Any:
    """A service refused the form: nothing stays written, the form comes back with the reason."""
    db.session.rollback()
    flash(exc.message, "error")
    return render_template(template, **context), exc.status


@bp.get("/users")
@admin_only
def users() -> Any:
    form = UserSearchForm(request.args)
    form.department_id.choices = department_choices()
    search = form.search() if form.validate() else people.UserSearch()
    query = {k: v for k, v in request.args.items() if k in ("q", "department_id", "role", "state")}
    return render_template("people/users.html", form=form, found=people.search_users(search), query=query)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def new_user() -> Any:
    form = UserForm()
    form.department_id.choices = department_choices()
    if not form.validate_on_submit():
        return render_template("people/new.html", form=form), 422 if form.is_submitted() else 200
    try:
        user, password = people.create_user(form.spec(), form.password.data or None, actor())
    except InvalidInput as exc:
        return _refused(exc, "people/new.html", form=form)
    db.session.commit()
    # The password is shown on this answer only: never in a redirect, a flash message or the log.
    return render_template("people/password.html", user=user, password=password,
                           generated=not form.password.data, created=True), 200, NO_STORE


def _edit_page(user: User, form: UserEditForm) -> dict[str, Any]:
    return {"user": user, "form": form, "history": people.history(user.id),
            "headed": people.headed_by(user.id), "confirm": ConfirmForm(), "is_me": user.id == me().id}


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def edit_user(user_id: int) -> Any:
    user = people.get_user(user_id)
    form = UserEditForm(data={"display_name": user.display_name, "department_id": user.department_id,
                              "roles": [r.name.value for r in user.roles]})
    form.department_id.choices = department_choices()
    if not form.validate_on_submit():
        return render_template("people/edit.html", **_edit_page(user, form)), 422 if form.is_submitted() else 200
    try:
        people.update_user(user.id, form.display_name.data or "", form.department_id.data, chosen_roles(form.roles),
                           actor())
    except InvalidInput as exc:
        return _refused(exc, "people/edit.html", **_edit_page(people.get_user(user_id), form))
    db.session.commit()
    flash(_("%(name)s is saved.", name=user.display_name), "success")
    return redirect(url_for("people.edit_user", user_id=user.id))


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@admin_only
def deactivate(user_id: int) -> Any:
    """GET says what depends on the person; the confirmed POST deactivates them."""
    user, form = people.get_user(user_id), ConfirmForm()
    if not form.validate_on_submit():
        return render_template("people/deactivate.html", user=user, work=people.open_work(user), form=form,
                               problem=people.lockout_problem(user, user.role_names, False, actor())), (
            400 if form.is_submitted() else 200)
    work = people.deactivate(user.id, actor())
    db.session.commit()
    flash(_("%(name)s is deactivated: they cannot log in, and their sessions have ended.", name=user.display_name),
          "success")
    if work.task_count:
        flash(_("%(count)s open task(s) wait for them by name.", count=work.task_count), "warning")
    for name in work.headed_departments:
        flash(_("%(department)s has no head now: name one.", department=name), "warning")
    return redirect(url_for("people.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@admin_only
def reactivate(user_id: int) -> Any:
    user = people.reactivate(user_id, actor())
    db.session.commit()
    flash(_("%(name)s can log in again.", name=user.display_name), "success")
    return redirect(url_for("people.edit_user", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@admin_only
def reset_password(user_id: int) -> Any:
    user, form = people.get_user(user_id), PasswordForm()
    if not form.validate_on_submit():
        return render_template("people/reset.html", user=user, form=form), 422 if form.is_submitted() else 200
    try:
        password = people.reset_password(user.id, form.password.data or None, actor())
    except InvalidInput as exc:
        return _refused(exc, "people/reset.html", user=people.get_user(user_id), form=form)
    db.session.commit()
    return render_template("people/password.html", user=user, password=password, generated=not form.password.data,
                           created=False), 200, NO_STORE


def _upload(form: ImportForm) -> bytes:
    """The uploaded file, or the one the dry run read (carried back base64); InvalidInput when neither."""
    if form.file.data:
        return bytes(form.file.data.read())
    try:
        data = base64.b64decode(form.content.data or "", validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data:
        raise InvalidInput(_("Choose a CSV file."))
    return data


@bp.route("/users/import", methods=["GET", "POST"])
@admin_only
def import_users() -> Any:
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("people/import.html", form=form, report=None), 422 if form.is_submitted() else 200
    try:
        data = _upload(form)
        report = people_import.import_people(data, actor(), dry_run=not form.apply.data,
                                             max_rows=current_app.config["IMPORT_MAX_ROWS"])
    except InvalidInput as exc:
        return _refused(exc, "people/import.html", form=ImportForm(formdata=None), report=None)
    if report.applied:
        db.session.commit()
    else:
        db.session.rollback()
    carried = ImportForm(formdata=None, data={"content": base64.b64encode(data).decode()})
    return render_template("people/import.html", form=ImportForm(formdata=None), carried=carried, report=report,
                           dry_run=not form.apply.data), 422 if report.refused else 200, NO_STORE

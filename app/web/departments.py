"""Departments, for seal administrators: the tree with heads and members, adding, renaming, moving, naming or
clearing the head, deleting an empty one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput
from app.extensions import db
from app.models import Department, RoleName
from app.services import accounts, departments
from app.services.departments import DepartmentSpec
from app.web.guards import actor, role_required
from app.web.people import ROLE_NAMES, department_choices
from app.web.people_forms import ConfirmForm, DepartmentForm

bp = Blueprint("departments", __name__, url_prefix="/admin")
admin_only = role_required(RoleName.SEAL_ADMIN)


def _new_form() -> DepartmentForm:
    form = DepartmentForm()
    form.parent_id.choices = department_choices()
    form.head_id.choices = [SelectChoice("", "—")]
    return form


def _edit_form(department: Department) -> DepartmentForm:
    """The form filled with the department; a head from its people or those of the departments above."""
    form = DepartmentForm(data={"name": department.name, "parent_id": department.parent_id,
                                "head_id": department.head_id})
    form.parent_id.choices = [c for c in department_choices() if c.value != str(department.id)]
    form.head_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(u.id), f"{u.display_name} ({u.department.name if u.department else ''})")
        for u in departments.head_candidates(department)]
    return form


@bp.route("/departments", methods=["GET", "POST"])
@admin_only
def index() -> Any:
    form = _new_form()
    if form.validate_on_submit():
        try:
            department = departments.create_department(DepartmentSpec(form.name.data or "", form.parent_id.data),
                                                       actor())
        except InvalidInput as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("Department “%(name)s” added.", name=department.name), "success")
            return redirect(url_for("departments.index"))
    return render_template("departments/index.html", rows=departments.department_tree(), form=form), (
        422 if form.is_submitted() else 200)


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@admin_only
def edit(department_id: int) -> Any:
    department = accounts.get_department(department_id)
    form = _edit_form(department)
    if form.validate_on_submit():
        spec = DepartmentSpec(form.name.data or "", form.parent_id.data, form.head_id.data)
        try:
            departments.update_department(department.id, spec, actor())
        except InvalidInput as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("Department “%(name)s” saved.", name=department.name), "success")
            return redirect(url_for("departments.edit", department_id=department.id))
    department = accounts.get_department(department_id)
    return render_template("departments/edit.html", department=department, form=form, confirm=ConfirmForm(),
                           members=departments.members_of(department), role_names=ROLE_NAMES,
                           deletion_problem=departments.deletion_problem(department)), (
        422 if form.is_submitted() else 200)


@bp.post("/departments/<int:department_id>/delete")
@admin_only
def delete(department_id: int) -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("departments.edit", department_id=department_id)), 303
    try:
        name = departments.delete_department(department_id, actor())
    except InvalidInput as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("departments.edit", department_id=department_id)), 303
    db.session.commit()
    flash(_("Department “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("departments.index"))

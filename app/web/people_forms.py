"""The forms of the people pages (/admin/users, /admin/departments, the CSV import); every form that changes
something carries a CSRF token (Flask-WTF), the search form is a plain GET."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.models import RoleName
from app.services.people import UserSearch, UserSpec
from app.web.forms import optional_id

ROLE_LABELS = {
    RoleName.EMPLOYEE: _l("Employee (files applications)"), RoleName.APPROVER: _l("Approver"),
    RoleName.LEADER: _l("Leader"), RoleName.SEAL_ADMIN: _l("Seal administrator"),
    RoleName.AUDITOR: _l("Auditor (reads everything, never decides)"),
}
ROLE_NAMES = {
    RoleName.EMPLOYEE: _l("Employee"), RoleName.APPROVER: _l("Approver"), RoleName.LEADER: _l("Leader"),
    RoleName.SEAL_ADMIN: _l("Seal administrator"), RoleName.AUDITOR: _l("Auditor"),
}
# What a line of the CSV import changes, and what happens to it.
FIELD_LABELS = {"display_name": _l("Name"), "department": _l("Department"), "roles": _l("Roles"),
                "active": _l("Active"), "head": _l("Heads")}
OUTCOME_LABELS = {"create": _l("create"), "change": _l("change"), "unchanged": _l("unchanged"),
                  "refuse": _l("refused")}
DEPARTMENT_ACTION_LABELS = {"create": _l("new department"), "move": _l("moved under"), "head": _l("new head")}


def roles_field() -> SelectMultipleField:
    """The roles as check boxes."""
    return SelectMultipleField(_l("Roles"), choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in RoleName],
                               widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


def chosen_roles(field: SelectMultipleField) -> frozenset[RoleName]:
    """The roles ticked."""
    return frozenset(RoleName(r) for r in field.data or ())


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    q = StringField(_l("Search"), validators=[Length(max=200)])
    department_id = SelectField(_l("Department"), coerce=optional_id, choices=[], validate_choice=False)
    role = SelectField(_l("Role"), default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(r.value, ROLE_NAMES[r]) for r in RoleName])
    state = SelectField(_l("Status"), default="active", choices=[
        SelectChoice("active", _l("Active")), SelectChoice("inactive", _l("Deactivated")),
        SelectChoice("all", _l("All"))])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1, max=100_000)])
    submit = SubmitField(_l("Search"))

    def search(self) -> UserSearch:
        return UserSearch(text=self.q.data or "", department_id=self.department_id.data,
                          role=RoleName(self.role.data) if self.role.data else None, state=self.state.data or "active",
                          page=self.page.data or 1)


class UserForm(FlaskForm):
    """A new person."""

    username = StringField(_l("Username (for logging in)"), validators=[DataRequired(), Length(max=80)])
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    department_id = SelectField(_l("Department"), coerce=optional_id, choices=[])
    roles = roles_field()
    password = PasswordField(_l("Password (leave empty to generate one, shown once)"),
                             validators=[Optional(), Length(max=256)])
    submit = SubmitField(_l("Create user"))

    def spec(self) -> UserSpec:
        return UserSpec((self.username.data or "").strip(), self.display_name.data or "", self.department_id.data,
                        chosen_roles(self.roles))


class UserEditForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    department_id = SelectField(_l("Department"), coerce=optional_id, choices=[])
    roles = roles_field()
    submit = SubmitField(_l("Save"))


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password (leave empty to generate one, shown once)"),
                             validators=[Optional(), Length(max=256)])
    submit = SubmitField(_l("Set the new password"))


class ConfirmForm(FlaskForm):
    """A button whose only field is the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    parent_id = SelectField(_l("Above it (parent department)"), coerce=optional_id, choices=[])
    head_id = SelectField(_l("Head (approves as department head)"), coerce=optional_id, choices=[])
    submit = SubmitField(_l("Save"))


class ImportForm(FlaskForm):
    """A CSV file, or the one a dry run just read (carried back in `content`, base64), checked or applied."""

    file = FileField(_l("CSV file (UTF-8)"))
    content = HiddenField()
    check = SubmitField(_l("Dry run: show what would change"))
    apply = SubmitField(_l("Import"))


class ChangePasswordForm(FlaskForm):
    """A person choosing their own password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    repeat = PasswordField(_l("New password again"), validators=[DataRequired(), EqualTo(
        "new", _l("The two new passwords differ."))])
    submit = SubmitField(_l("Change password"))

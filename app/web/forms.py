"""Web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import TextInput

from app.models.seal import IMAGE_NOTE_LIMIT, REVOCATION_NOTE_LIMIT
from app.models.timestamps import utcnow
from app.services.applications import DOCUMENT_TYPES

DOCUMENT_TYPE_LABELS = {
    "contract": _l("Contract"), "agreement": _l("Agreement"), "certificate": _l("Certificate"),
    "letter": _l("Letter"), "report": _l("Report"), "other": _l("Other"),
}
# The shipped processes' names and form labels, as their diagrams write them: here so that the catalog translates
# them (a name an administrator's diagram gives is shown as written).
DIAGRAM_TEXTS = (
    _l("Seal application"), _l("Countersigned seal application"), _l("Leader's signature"),
    _l("Parties sign in order"), _l("Countersigners"), _l("Parties, in signing order"),
    _l("After the approvals the seal policy requires, the seal is applied."),
    _l("After the approvals the seal policy requires, every countersigner must agree."),
    _l("The seal's owner authorizes the use of their signature, which goes on every page."),
    _l("After the approvals the seal policy requires, each party signs in turn with their own seal."),
)
DECISION_LABELS = {
    "approve": _l("Approve"), "reject": _l("Reject"), "return": _l("Return for revision"),
    "resubmit": _l("Resubmit"), "withdraw": _l("Withdraw"), "retry": _l("Try again"),
}
# What the amount column holds: below 10^14, in cents.
AMOUNT_LIMIT = Decimal(10) ** 14


def optional_id(value: Any) -> int | None:
    """A select's value as an id; the empty choice is None."""
    if value is None or value == "":
        return None
    return int(value)


class AmountField(DecimalField):
    """A decimal amount; thousands separators and spaces are allowed (1,000,000.00). A text input: a browser's
    number input refuses the separators its placeholder shows."""

    widget = TextInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and isinstance(valuelist[0], str):
            valuelist = [valuelist[0].replace(",", "").replace("，", "").replace(" ", "")]
        super().process_formdata(valuelist)


def check_amount(form: Any, field: AmountField) -> None:
    """Finite, not negative, at most two decimals, and below the column's limit."""
    amount = field.data
    if amount is None:
        return
    try:
        fine = amount.is_finite() and Decimal(0) <= amount < AMOUNT_LIMIT and amount == amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        fine = False
    if not fine:
        raise ValidationError(_l("Give an amount of 0 or more, with at most two decimals."))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Log in"))


class ApplicationForm(FlaskForm):
    """The fixed part of the filing form; the process's own fields follow it (app/services/filing.py)."""

    # One token per filled-in form: sending it twice (a double click, a resubmitted page) files one application.
    submission_token = HiddenField(default=lambda: secrets.token_hex(16),
                                   validators=[Optional(), Length(max=64), Regexp(r"^[0-9a-f]*$")])
    process_id = HiddenField(default="seal_application", validators=[Length(max=200)])
    seal_id = SelectField(_l("Seal"), coerce=int, validators=[DataRequired()])
    document_type = SelectField(_l("Document type"), choices=[SelectChoice(t, DOCUMENT_TYPE_LABELS[t])
                                                                      for t in DOCUMENT_TYPES])
    title = StringField(_l("Document title"), validators=[DataRequired(_l("Give the document's title.")),
                                                          Length(max=200)])
    counterparty = StringField(_l("Counterparty (the other side, if any)"), validators=[Length(max=200)])
    # Left empty (or not sent, as by a script): one copy.
    copies = IntegerField(_l("Copies to stamp"), default=1, validators=[
        Optional(), NumberRange(1, 1000, message=_l("From 1 to 1000 copies."))])
    document = FileField(_l("PDF document"), validators=[FileRequired(_l("Choose a PDF file.")),
                                                         FileAllowed(["pdf"], _l("Only PDF files are accepted."))])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why the seal is needed.")),
                                                     Length(max=2000)])
    seal_page = IntegerField(_l("Seal on page (-1 is the last page)"), default=-1,
                             validators=[NumberRange(-10000, 10000)])
    seal_keyword = StringField(_l("Or centred on this text, e.g. 甲方（盖章）"), validators=[Length(max=100)])
    riding_seal = BooleanField(_l("Riding seal across the page edges"))
    watermark = BooleanField(_l("Confidentiality watermark"))
    amount = AmountField(_l("Amount the document commits to, if any"), validators=[Optional(), check_amount])
    submit = SubmitField(_l("Submit application"))


class DecisionForm(FlaskForm):
    # The choices are the task's own (HumanTask.decision_choices), set by the view; the service refuses others.
    decision = RadioField(_l("Decision"), choices=[], validate_choice=False,
                          validators=[DataRequired(_l("Choose a decision."))])
    comment = TextAreaField(_l("Comment (needed to reject or return)"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Submit decision"))


def _in_minutes(delta: timedelta) -> datetime:
    return (utcnow() + delta).replace(second=0, microsecond=0)


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class SubstituteForm(FlaskForm):
    substitute_id = SelectField(_l("Substitute"), coerce=optional_id,
                                validators=[DataRequired(_l("Choose who acts for you."))])
    starts_at = DateTimeLocalField(_l("From (UTC)"), format=DATETIME_FORMATS,
                                   default=lambda: _in_minutes(timedelta()),
                                   validators=[InputRequired(_l("Give a date and time."))])
    ends_at = DateTimeLocalField(_l("Until (UTC)"), format=DATETIME_FORMATS,
                                 default=lambda: _in_minutes(timedelta(days=7)),
                                 validators=[InputRequired(_l("Give a date and time."))])
    reason = StringField(_l("Reason (optional), e.g. business trip"), validators=[Length(max=200)])
    submit = SubmitField(_l("Name substitute"))


class VerifyForm(FlaskForm):
    document = FileField(_l("Signed PDF"), validators=[FileRequired(_l("Choose a PDF file."))])
    submit = SubmitField(_l("Verify"))


SEAL_KIND_LABELS = {
    "company": _l("Company seal"), "contract": _l("Contract seal"), "finance": _l("Finance seal"),
    "legal_representative": _l("Legal representative seal"), "personal": _l("Personal seal"),
}


class SealForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, v) for k, v in SEAL_KIND_LABELS.items()])
    department_id = SelectField(_l("Owner department"), choices=[])
    organisation = StringField(_l("Text along the ring (or the owner's name)"), validators=[Length(max=100)])
    purpose = StringField(_l("Purpose line, e.g. 合同专用章"), validators=[Length(max=40)])
    serial = StringField(_l("Serial number"), validators=[Length(max=20)])
    shape = SelectField(_l("Shape"), choices=[SelectChoice("round", _l("Round")), SelectChoice("oval", _l("Oval")),
                                              SelectChoice("square", _l("Square"))], default="round")
    image = FileField(_l("Or upload the seal image (PNG, SVG or PDF)"))
    submit = SubmitField(_l("Add seal"))

    def validate_organisation(self, field: StringField) -> None:
        if not field.data and not self.image.data:
            raise ValidationError(_l("Give the seal's text or upload its image."))


REVOCATION_REASON_LABELS = {
    "keyCompromise": _l("Key compromise"), "superseded": _l("Superseded"),
    "cessationOfOperation": _l("Cessation of operation"),
}


class SealStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice("active", _l("Active")),
                                                SelectChoice("suspended", _l("Suspended")),
                                                SelectChoice("revoked", _l("Revoked"))])
    revocation_reason = SelectField(_l("Reason for revoking"), default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(k, v) for k, v in REVOCATION_REASON_LABELS.items()])
    revocation_note = StringField(_l("Note (optional)"), validators=[Length(max=REVOCATION_NOTE_LIMIT)])
    submit = SubmitField(_l("Change"))

    def validate_revocation_reason(self, field: SelectField) -> None:
        if self.status.data == "revoked" and not field.data:
            raise ValidationError(_l("Say why the seal is revoked: key compromise, superseded or cessation of "
                                     "operation."))
        if self.status.data != "revoked" and (field.data or (self.revocation_note.data or "").strip()):
            raise ValidationError(_l("A reason and a note are given only when revoking a seal."))

class SealEditForm(FlaskForm):
    """A seal's name and holders, as a seal administrator edits them."""

    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the seal a name.")), Length(max=200)])
    owner_id = SelectField(_l("Owner (whose signature it is)"), coerce=optional_id, choices=[])
    custodian_ids = SelectMultipleField(_l("Custodians (keep the seal; sign with it as a party)"), coerce=int,
                                        choices=[])
    department_ids = SelectMultipleField(_l("Departments whose people may request it"), coerce=int, choices=[])
    user_ids = SelectMultipleField(_l("People who may request it"), coerce=int, choices=[])
    submit = SubmitField(_l("Save"))


class SealImageForm(FlaskForm):
    """A new image version: drawn from text, or uploaded."""

    organisation = StringField(_l("Text along the ring (or the owner's name)"), validators=[Length(max=100)])
    purpose = StringField(_l("Purpose line, e.g. 合同专用章"), validators=[Length(max=40)])
    serial = StringField(_l("Serial number"), validators=[Length(max=20)])
    shape = SelectField(_l("Shape"), choices=[SelectChoice("round", _l("Round")), SelectChoice("oval", _l("Oval")),
                                              SelectChoice("square", _l("Square"))], default="round")
    image = FileField(_l("Or upload the seal image (PNG, SVG or PDF)"))
    note = StringField(_l("Why it changes (optional), e.g. new seal carved in 2027"),
                       validators=[Length(max=IMAGE_NOTE_LIMIT)])
    submit = SubmitField(_l("Make it the current image"))

    def validate_organisation(self, field: StringField) -> None:
        if not field.data and not self.image.data:
            raise ValidationError(_l("Give the seal's text or upload its image."))


class SealRenewForm(FlaskForm):
    submit = SubmitField(_l("Renew the certificate"))


class GrantForm(FlaskForm):
    seal_id = SelectField(_l("Your signature"), coerce=int, choices=[], validators=[DataRequired()])
    process_ids = SelectMultipleField(_l("Processes (none chosen: every process)"), choices=[])
    document_types = SelectMultipleField(_l("Document types (none chosen: every type)"), choices=[
        SelectChoice(t, DOCUMENT_TYPE_LABELS[t]) for t in DOCUMENT_TYPES])
    department_ids = SelectMultipleField(_l("Requesters' departments (none chosen: every department)"),
                                         coerce=int, choices=[])
    amount_ceiling = AmountField(_l("Amount ceiling (optional; applications without an amount are then not covered)"),
                                 validators=[Optional(), check_amount])
    valid_from = DateTimeLocalField(_l("From (UTC)"), format=DATETIME_FORMATS, default=lambda: _in_minutes(timedelta()),
                                    validators=[InputRequired(_l("Give a date and time."))])
    valid_until = DateTimeLocalField(_l("Until (UTC)"), format=DATETIME_FORMATS,
                                     default=lambda: _in_minutes(timedelta(days=90)),
                                     validators=[InputRequired(_l("Give a date and time."))])
    uses = IntegerField(_l("Number of uses"), default=10,
                        validators=[InputRequired(), NumberRange(min=1, max=10_000)])
    note = StringField(_l("Note (optional)"), validators=[Length(max=500)])
    submit = SubmitField(_l("Grant and sign the authorization letter"))


class DirectorySyncForm(FlaskForm):
    """The Directory page's two buttons: see what a sync would change, or sync."""

    preview = SubmitField(_l("Preview (changes nothing)"))
    apply = SubmitField(_l("Sync now"))


POLICY_CHOICES = [SelectChoice("deployed", _l("The deployed seal policy")),
                  SelectChoice("draft", _l("A draft (.dmn file)"))]


def _draft_validator(form: Any, field: FileField) -> None:
    """A draft policy: a file chosen, or the one the previous run used (kept in the form)."""
    if form.policy.data == "draft" and not field.data and not (form.draft_text.data or "").strip():
        raise ValidationError(_l("Choose the draft policy file (.dmn)."))


class WhatIfForm(FlaskForm):
    # "process_id@version": the choices are today's deployed versions, set by the view.
    version = SelectField(_l("Process and version"), choices=[], validators=[DataRequired()])
    policy = RadioField(_l("Seal policy"), choices=POLICY_CHOICES, default="deployed")
    draft = FileField(_l("Draft policy"), validators=[FileAllowed(["dmn", "xml"], _l("Choose a .dmn file.")),
                                                      _draft_validator])
    # The draft the previous run used, so that a run with other decisions needs no new upload.
    draft_text = HiddenField()
    draft_name = HiddenField(validators=[Length(max=200)])
    seal_id = SelectField(_l("Seal"), coerce=int, choices=[], validators=[DataRequired()])
    document_type = SelectField(_l("Document type"), choices=[SelectChoice(t, DOCUMENT_TYPE_LABELS[t])
                                                               for t in DOCUMENT_TYPES])
    amount = AmountField(_l("Amount the document commits to, if any"), validators=[Optional(), check_amount])
    requester_id = SelectField(_l("Requester"), coerce=int, choices=[], validators=[DataRequired()])
    department_id = SelectField(_l("Department"), coerce=optional_id, choices=[])
    countersigner_ids = SelectMultipleField(_l("Countersigners (for a countersign process)"), coerce=int, choices=[])
    submit = SubmitField(_l("Show the path"))


class BacktestForm(FlaskForm):
    draft = FileField(_l("Draft seal policy (.dmn)"), validators=[
        FileRequired(_l("Choose the draft policy file (.dmn).")),
        FileAllowed(["dmn", "xml"], _l("Choose a .dmn file."))])
    months = IntegerField(_l("Months back"), default=12,
                          validators=[InputRequired(), NumberRange(min=1, max=36, message=_l(
                              "Choose from 1 to 36 months."))])
    submit = SubmitField(_l("Run the back-test"))

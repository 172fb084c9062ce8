"""Web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from app.services.applications import DOCUMENT_TYPES

DOCUMENT_TYPE_LABELS = {
    "contract": _l("Contract"), "agreement": _l("Agreement"), "certificate": _l("Certificate"),
    "letter": _l("Letter"), "report": _l("Report"), "other": _l("Other"),
}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Log in"))


class ApplicationForm(FlaskForm):
    seal_id = SelectField(_l("Seal"), coerce=int, validators=[DataRequired()])
    document_type = SelectField(_l("Document type"), choices=[SelectChoice(t, DOCUMENT_TYPE_LABELS[t])
                                                                      for t in DOCUMENT_TYPES])
    document = FileField(_l("PDF document"), validators=[FileRequired(_l("Choose a PDF file.")),
                                                         FileAllowed(["pdf"], _l("Only PDF files are accepted."))])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why the seal is needed.")),
                                                     Length(max=2000)])
    seal_page = IntegerField(_l("Seal on page (-1 is the last page)"), default=-1,
                             validators=[NumberRange(-10000, 10000)])
    seal_keyword = StringField(_l("Or centred on this text, e.g. 甲方（盖章）"), validators=[Length(max=100)])
    riding_seal = BooleanField(_l("Riding seal across the page edges"))
    watermark = BooleanField(_l("Confidentiality watermark"))
    submit = SubmitField(_l("Submit application"))


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice("approve", _l("Approve")),
                                                    SelectChoice("reject", _l("Reject"))],
                          validators=[DataRequired(_l("Choose approve or reject."))])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Submit decision"))


class VerifyForm(FlaskForm):
    document = FileField(_l("Signed PDF"), validators=[FileRequired(_l("Choose a PDF file."))])
    submit = SubmitField(_l("Verify"))

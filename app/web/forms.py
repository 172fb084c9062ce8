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
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError

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


class SealStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice("active", _l("Active")),
                                                SelectChoice("suspended", _l("Suspended")),
                                                SelectChoice("revoked", _l("Revoked"))])
    submit = SubmitField(_l("Change"))

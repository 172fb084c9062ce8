"""The archive's search form: a plain GET form (nothing changes, no CSRF token), each criterion checked so that a
bad parameter is a form error, never a database error."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.models import ApplicationStatus
from app.services.applications import DOCUMENT_TYPES
from app.services.archive import PER_PAGE_CHOICES, SORT_COLUMNS, TEXT_LIMIT, ArchiveSearch
from app.web.forms import DOCUMENT_TYPE_LABELS, AmountField, check_amount, optional_id
from app.web.labels import STATUS_LABELS

# The query-string parameters a search is made of (what sorting and paging links carry along).
CRITERIA = ("counterparty", "title", "document_type", "requester", "department_id", "seal_id", "status",
            "filed_from", "filed_to", "amount_min", "amount_max", "per_page")


def printable(form: Any, field: StringField) -> None:
    """No control characters (a NUL reaches PostgreSQL as an error)."""
    if any(unicodedata.category(c) == "Cc" for c in field.data or ""):
        raise ValidationError(_l("Remove the control characters."))


def _text(label: Any) -> StringField:
    return StringField(label, validators=[Length(max=TEXT_LIMIT), printable])


class ArchiveSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    counterparty = _text(_l("Counterparty"))
    title = _text(_l("Document title"))
    document_type = SelectField(_l("Document type"), default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(t, DOCUMENT_TYPE_LABELS[t]) for t in DOCUMENT_TYPES])
    requester = _text(_l("Requester (username or name)"))
    department_id = SelectField(_l("Department (with those below it)"), coerce=optional_id, choices=[])
    seal_id = SelectField(_l("Seal"), coerce=optional_id, choices=[])
    status = SelectField(_l("Status"), default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(s.value, STATUS_LABELS[s.value]) for s in ApplicationStatus])
    filed_from = DateField(_l("Filed from (UTC)"), validators=[Optional()])
    filed_to = DateField(_l("Filed until (UTC)"), validators=[Optional()])
    amount_min = AmountField(_l("Amount from"), validators=[Optional(), check_amount])
    amount_max = AmountField(_l("Amount up to"), validators=[Optional(), check_amount])
    per_page = SelectField(_l("Per page"), coerce=int, default=PER_PAGE_CHOICES[0],
                           choices=[SelectChoice(n, str(n)) for n in PER_PAGE_CHOICES])
    sort = SelectField(default="filed", choices=list(SORT_COLUMNS))
    order = SelectField(default="desc", choices=["asc", "desc"])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1, max=1_000_000)])

    def validate_filed_to(self, field: DateField) -> None:
        if field.data and self.filed_from.data and field.data < self.filed_from.data:
            raise ValidationError(_l("The last day is before the first."))

    def validate_amount_max(self, field: AmountField) -> None:
        if field.data is not None and self.amount_min.data is not None and field.data < self.amount_min.data:
            raise ValidationError(_l("The upper amount is below the lower one."))

    def search(self) -> ArchiveSearch:
        """The criteria, once the form is valid."""
        return ArchiveSearch(
            counterparty=self.counterparty.data or "", title=self.title.data or "",
            document_type=self.document_type.data or None, requester=self.requester.data or "",
            department_id=self.department_id.data, seal_id=self.seal_id.data,
            status=ApplicationStatus(self.status.data) if self.status.data else None,
            filed_from=self.filed_from.data, filed_to=self.filed_to.data,
            amount_min=self.amount_min.data, amount_max=self.amount_max.data,
            sort=self.sort.data or "filed", descending=self.order.data != "asc", page=self.page.data or 1,
            per_page=self.per_page.data or PER_PAGE_CHOICES[0],
        )

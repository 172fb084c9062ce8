"""What-if and back-testing pages for seal administrators (beside /flows): the path an application would take, and
the past applications a draft seal policy would route differently. Nothing they do is stored."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput, NotFound, PolicyViolation
from app.models import RoleName
from app.models.timestamps import utcnow
from app.services import accounts, flows, seals, whatif
from app.services.operators import TEMPLATES
from app.web.forms import BacktestForm, WhatIfForm
from app.web.guards import role_required
from app.workflow import TIMEOUT, InvalidDefinition, WorkflowFailed

bp = Blueprint("whatif", __name__, url_prefix="/flows")
ADMIN = RoleName.SEAL_ADMIN
REFUSED = (InvalidInput, NotFound, PolicyViolation, InvalidDefinition, WorkflowFailed)
ROLE_LABELS = {
    "employee": _l("Employees"), "approver": _l("Approvers"), "leader": _l("Leaders"),
    "seal_admin": _l("Seal administrators"), "auditor": _l("Auditors"),
}
_DECISION_FIELD = re.compile(r"^decision-(\d{1,4})$")


def _what_if_form() -> WhatIfForm:
    """The form with today's process versions, seals, people and departments as its choices."""
    form = WhatIfForm()
    form.version.choices = [SelectChoice(f"{p.process_id}@{v.definition.version}", _(
        "%(name)s — version %(n)s", name=p.name, n=v.definition.version)) for p in flows.list_processes()
        for v in p.versions]
    people = [SelectChoice(str(u.id), u.display_name) for u in accounts.list_active_users()]
    form.seal_id.choices = [SelectChoice(str(s.id), s.name) for s in seals.list_seals()]
    form.requester_id.choices = people
    form.countersigner_ids.choices = people
    form.department_id.choices = [SelectChoice("", _("The requester's own"))] + [
        SelectChoice(str(d.id), d.name) for d in accounts.list_departments()]
    return form


def _decisions() -> tuple[tuple[int, str], ...]:
    """The decisions chosen on the previous answer's steps (decision-<n>), where they are not approve."""
    chosen = ((int(m.group(1)), value) for key, value in request.form.items() if (m := _DECISION_FIELD.match(key)))
    return tuple(sorted((n, value) for n, value in chosen if value and value != "approve"))


def _draft(form: WhatIfForm | BacktestForm) -> bytes | None:
    """The draft policy's content: the file chosen, else the one the previous run used."""
    upload = form.draft.data
    if upload:
        content: bytes = upload.read()
        if isinstance(form, WhatIfForm):
            form.draft_text.data = content.decode("utf-8", "replace")
            form.draft_name.data = upload.filename or ""
        return content
    return (form.draft_text.data or "").encode() if isinstance(form, WhatIfForm) else None


def _spec(form: WhatIfForm) -> whatif.WhatIfSpec:
    return whatif.WhatIfSpec(
        seal_id=form.seal_id.data or 0, document_type=form.document_type.data or "", amount=form.amount.data,
        requester_id=form.requester_id.data or 0, department_id=form.department_id.data,
        countersigner_ids=tuple(form.countersigner_ids.data or ()), decisions=_decisions())


def duration_words(duration: timedelta) -> str:
    """A timer's duration as words: 2 days, 1 day 4 hours, 30 minutes."""
    minutes = int(duration.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    parts = [ngettext("%(num)s day", "%(num)s days", days) if days else "",
             ngettext("%(num)s hour", "%(num)s hours", hours) if hours else "",
             ngettext("%(num)s minute", "%(num)s minutes", minutes) if minutes else ""]
    return " ".join(p for p in parts if p) or _("no time")


def _render(template: str, status: int = 200, **context: Any) -> Any:
    operations = {t.operator: _(t.name) for t in TEMPLATES}
    return render_template(template, role_labels=ROLE_LABELS, operations=operations, timeout=TIMEOUT,
                           duration_words=duration_words, **context), status


@bp.route("/what-if", methods=["GET", "POST"])
@role_required(ADMIN)
def what_if() -> Any:
    form = _what_if_form()
    if not form.validate_on_submit():
        return _render("flows/what_if.html", 422 if form.is_submitted() else 200, form=form)
    process_id, _at, version = (form.version.data or "").rpartition("@")
    draft = _draft(form) if form.policy.data == "draft" else None
    try:
        result = whatif.simulate(process_id, int(version), _spec(form), whatif.draft_of(draft) if draft else None)
    except REFUSED as exc:
        flash(exc.message, "error")
        return _render("flows/what_if.html", exc.status, form=form, problems=getattr(exc, "problems", []))
    return _render("flows/what_if.html", form=form, result=result)


@bp.route("/back-test", methods=["GET", "POST"])
@role_required(ADMIN)
def back_test() -> Any:
    form = BacktestForm()
    if not form.validate_on_submit():
        return _render("flows/back_test.html", 422 if form.is_submitted() else 200, form=form)
    try:
        report = whatif.backtest(whatif.draft_of(_draft(form) or b""), form.months.data or 0, utcnow())
    except REFUSED as exc:
        flash(exc.message, "error")
        return _render("flows/back_test.html", exc.status, form=form, problems=getattr(exc, "problems", []))
    return _render("flows/back_test.html", form=form, report=report, draft_name=form.draft.data.filename)

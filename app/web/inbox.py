"""The approver's pages: the inbox, a task, a decision."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.errors import InvalidInput
from app.extensions import db
from app.services import approvals
from app.web.forms import DecisionForm
from app.web.guards import actor, me

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
@login_required
def index() -> Any:
    tasks = approvals.inbox(me())
    return render_template("inbox/index.html", tasks=tasks, applications={
        t.id: approvals.application_of(t) for t in tasks})


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Any:
    found = approvals.get_task(task_id, me())
    application = approvals.application_of(found)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            approvals.decide(task_id, me(), form.decision.data or "", form.comment.data or "", actor())
        except InvalidInput as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("Decision recorded."), "success")
            return redirect(url_for("inbox.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("inbox/task.html", task=found, application=application, form=form,
                           can_decide=approvals.can_decide(me(), found)), status

"""The approver's pages: the inbox, a task, a decision."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import HumanTask, User
from app.services import accounts, approvals, deployments, inbox
from app.web.forms import DecisionForm
from app.web.guards import actor, database_int, me
from app.web.labels import decision_label
from app.workflow import WorkflowFailed

bp = Blueprint("inbox", __name__)


def absent_users(tasks: list[HumanTask], user: User) -> dict[int, str]:
    """For each task the user would do as someone's substitute: the name of the absent user, by task id."""
    acting = {t.id: approvals.acting_for(t, user) for t in tasks}
    others = {t: u for t, u in acting.items() if u is not None and u != user.id}
    names = accounts.user_names(set(others.values()))
    return {t: names.get(u, str(u)) for t, u in others.items()}


@bp.get("/inbox")
@login_required
def index() -> Any:
    page = request.args.get("page", 1, type=database_int) or 1
    return render_template("inbox/index.html", found=inbox.inbox_page(me(), page))


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Any:
    found = approvals.get_task(task_id, me())
    application = approvals.application_of(found)
    form = DecisionForm()
    form.decision.choices = [SelectChoice(d, decision_label(d)) for d in found.decision_choices]
    if form.validate_on_submit():
        try:
            approvals.decide(task_id, me(), form.decision.data or "", form.comment.data or "", actor())
        except (InvalidInput, PermissionDenied) as exc:  # nothing was decided; the page says why
            db.session.rollback()
            if isinstance(exc, PermissionDenied):
                approvals.record_refusal(task_id, me(), exc.message, actor())
                db.session.commit()
            flash(exc.message, "error")
        except WorkflowFailed as exc:  # the step could not run: the decision is undone, the application fails
            db.session.rollback()
            approvals.fail_after_decision(task_id, exc.message, actor())
            db.session.commit()
            flash(_("Your decision could not be carried out, and the application has failed: %(reason)s",
                    reason=exc.message), "error")
            return redirect(url_for("inbox.index"))
        else:
            db.session.commit()
            flash(_("Decision recorded."), "success")
            return redirect(url_for("inbox.index"))
    refusal = approvals.decision_refusal(me(), found)
    status = (403 if refusal else 422) if form.is_submitted() else 200
    deployment = deployments.request_of_instance(found.instance_id) if application is None else None
    return render_template("inbox/task.html", task=found, application=application, form=form, deployment=deployment,
                           decisions=deployments.decisions_of(deployment) if deployment is not None else [],
                           can_decide=refusal is None, refusal=refusal if found.state.value == "ready" else None,
                           for_whom=absent_users([found], me()).get(found.id) if refusal is None else None), status

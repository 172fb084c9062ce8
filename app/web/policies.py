"""The seal administrator's decision tables: every seal-policy table with its versions and the flows that call it,
the dmn-js editor with live validation, the comparison of two versions, and deployment under dual control."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, flash, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import InvalidInput
from app.extensions import db
from app.models import RoleName
from app.models.timestamps import utcnow
from app.services import decision_tables, deployments, whatif
from app.web.guards import actor, database_int, me, posted_json, role_required
from app.web.security import attachment

bp = Blueprint("policies", __name__, url_prefix="/policies")
ADMIN = RoleName.SEAL_ADMIN


@bp.get("")
@role_required(ADMIN)
def index() -> Any:
    return render_template("policies/index.html", tables=decision_tables.list_tables())


@bp.get("/<name>/<int:version>.dmn")
@role_required(ADMIN)
def download(name: str, version: int) -> Any:
    found = decision_tables.get_version(name, version)
    response = Response(found.content, mimetype="application/xml")
    response.headers["Content-Disposition"] = attachment(f"{name.removesuffix('.dmn')}-v{version}.dmn", ".dmn")
    return response


@bp.get("/<name>/<int:version>")
@role_required(ADMIN)
def edit(name: str, version: int) -> Any:
    found = decision_tables.get_version(name, version)
    texts = {
        "checking": _("Checking…"), "valid": _("No problems: ready to deploy."),
        "problem": _("1 problem stops it from deploying."),
        "problems": _("%(count)s problems stop it from deploying.", count="%(count)s"),
        "unchecked": _("Could not check the table:"), "failed": _("The editor could not start:"),
        "deploying": _("Sending…"), "back_testing": _("Judging the applications…"),
    }
    return render_template("policies/editor.html", table=found, texts=texts,
                           used_by=decision_tables.used_by(found.decision_id))


def _posted() -> tuple[bytes, str, dict[str, Any]]:
    """The table a JSON request carries, its file name, and the rest of the request."""
    body = posted_json()
    body = body if isinstance(body, dict) else {}
    xml, name = body.get("xml"), body.get("name")
    if not isinstance(xml, str) or not xml.strip() or not isinstance(name, str):
        raise InvalidInput(_("Send the table as JSON: {\"xml\": \"…\", \"name\": \"….dmn\"}."))
    return xml.encode(), name, body


@bp.post("/validate")
@role_required(ADMIN)
def validate() -> Any:
    xml, name, _body = _posted()
    return jsonify(problems=[asdict(p) for p in decision_tables.validate_table(xml, name)])


@bp.post("/deployments")
@role_required(ADMIN)
def request_deployment() -> Any:
    xml, name, body = _posted()
    comment = body.get("comment")
    found = deployments.request_policy(xml, name, comment if isinstance(comment, str) else "", me(), actor())
    db.session.commit()
    flash(_("Deployment requested: it takes effect once another seal administrator approves it."), "success")
    return jsonify(url=url_for("flows.deployment", request_id=found.id)), 201


@bp.post("/back-test")
@role_required(ADMIN)
def back_test() -> Any:
    """The editor's draft judged against the applications of the past months (the back-test of /flows/back-test),
    answered as the report's HTML for the page to show. Nothing is changed."""
    xml, name, body = _posted()
    months = body.get("months")
    if isinstance(months, bool) or not isinstance(months, int):
        raise InvalidInput(_("Say how many months to look back, as a number."))
    report = whatif.backtest(whatif.draft_of(xml, name), months, utcnow())
    return jsonify(html=render_template("flows/_back_test_report.html", report=report, draft_name=_("This draft")))


@bp.get("/<name>/diff")
@role_required(ADMIN)
def diff(name: str) -> Any:
    """Two versions' rules side by side: ?from=1&to=2, or ?request=<id> against the version it replaces."""
    request_id = request.args.get("request", type=database_int)
    decisions: list[decision_tables.DefinedDecision] = []
    if request_id is not None:
        found = deployments.get_request(request_id)
        if found.base_version is None:
            raise InvalidInput(_("This request adds a new table: there is nothing to compare it with."))
        before = decision_tables.get_version(found.subject, found.base_version)
        after_content, titles = found.content, (_("version %(n)s", n=before.version),
                                                _("deployment request %(n)s", n=found.id))
        decisions = deployments.decisions_of(found)
    else:
        before = decision_tables.get_version(name, request.args.get("from", 1, type=database_int))
        after = decision_tables.get_version(name, request.args.get("to", before.version + 1, type=database_int))
        after_content, titles = after.content, (_("version %(n)s", n=before.version), _("version %(n)s",
                                                                                        n=after.version))
    old, new, changes = decision_tables.compare(before.content.encode(), after_content.encode(), name)
    return render_template("policies/diff.html", name=name, old=old, new=new, changes=changes, titles=titles,
                           decisions=decisions)

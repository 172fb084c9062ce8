"""The seal administrator's flows: every process and its versions, the modeler with live validation, and
deployments under dual control (a second seal administrator approves them in the inbox)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.errors import InvalidInput
from app.extensions import db
from app.models import RoleName
from app.services import deployments, filing, flows
from app.services.operators import TEMPLATES
from app.web.guards import actor, database_int, me, posted_json, role_required
from app.web.security import attachment

bp = Blueprint("flows", __name__, url_prefix="/flows")
ADMIN = RoleName.SEAL_ADMIN


def _bpmn(xml: str, filename: str) -> Response:
    """A diagram download; ?form=modeler gives it as the modeler keeps it whole (flows.modeler_xml)."""
    if request.args.get("form") == "modeler":
        xml = flows.modeler_xml(xml, filename)
    response = Response(xml, mimetype="application/xml")
    response.headers["Content-Disposition"] = attachment(filename, ".bpmn")
    return response


@bp.get("")
@role_required(ADMIN)
def index() -> Any:
    return render_template("flows/index.html", processes=flows.list_processes(),
                           requests=deployments.list_requests(), filings=filing.filing_pages())


@bp.get("/<process_id>/<int:version>.bpmn")
@role_required(ADMIN)
def download(process_id: str, version: int) -> Any:
    definition = flows.get_version(process_id, version)
    return _bpmn(definition.bpmn_xml, f"{process_id}-v{version}.bpmn")


@bp.get("/<process_id>/<int:version>")
@role_required(ADMIN)
def edit(process_id: str, version: int) -> Any:
    definition = flows.get_version(process_id, version)
    return _modeler(url_for("flows.download", process_id=process_id, version=version, form="modeler"),
                    definition=definition)


@bp.get("/new")
@role_required(ADMIN)
def new() -> Any:
    return _modeler(url_for("flows.blank"))


@bp.get("/new.bpmn")
@role_required(ADMIN)
def blank() -> Any:
    process_id = f"process_{secrets.token_hex(4)}"
    return _bpmn(render_template("flows/blank.bpmn", process_id=process_id, name=_("New approval flow")),
                 f"{process_id}.bpmn")


def _modeler(xml_url: str, **context: Any) -> Any:
    texts = {
        "checking": _("Checking…"), "valid": _("No problems: ready to deploy."),
        "problem": _("1 problem stops it from deploying."),
        "problems": _("%(count)s problems stop it from deploying.", count="%(count)s"),
        "warning": _("1 warning: read it before you deploy."),
        "warnings": _("%(count)s warnings: read them before you deploy.", count="%(count)s"),
        "unchecked": _("Could not check the diagram:"), "unreadable": _("This is not a diagram SealFlow can open:"),
        "failed": _("The modeler could not start:"), "line": _("line %(line)s", line="%(line)s"),
        "deploying": _("Sending…"),
    }
    return render_template("flows/modeler.html", xml_url=xml_url, texts=texts, **context)


# SealFlow's assignment rules and decisions as the modeler offers them on a user task (the values are the rules of
# app/workflow/assignment.py, written as the task's extension properties `assignee` and `decisions`).
_DECIDERS = (("department_head", _l("The requester's department head")), ("role:approver", _l("Any approver")),
             ("role:leader", _l("Any leader")), ("role:seal_admin", _l("Any seal administrator")))
_DECISIONS = (("approve,reject,return", _l("Approve, reject or return for revision")),
              ("approve,reject", _l("Approve or reject")))
_SCHEMA = "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json"


def _property(label: Any, name: str, choices: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {"label": str(label), "type": "Dropdown", "value": choices[0][0],
            "choices": [{"name": str(text), "value": value} for value, text in choices],
            "binding": {"type": "camunda:property", "name": name}}


def _step_templates() -> list[dict[str, Any]]:
    """User-task templates: a step decided by the people of one of SealFlow's rules, and the policy step."""
    return [{
        "$schema": _SCHEMA, "id": "sealflow.approval_step", "version": 1, "appliesTo": ["bpmn:UserTask"],
        "name": _("Approval step"),
        "description": _("A step decided by the people of one of SealFlow's rules. For one named person, use the "
                         "Assignee field instead."),
        "properties": [_property(_("Who decides"), "assignee", _DECIDERS),
                       _property(_("Decisions"), "decisions", _DECISIONS)],
    }, {
        "$schema": _SCHEMA, "id": "sealflow.policy_step", "version": 1, "appliesTo": ["bpmn:UserTask"],
        "name": _("Approvals the seal policy requires"),
        "description": _("Each level the seal policy requires, in turn. Make it a sequential multi-instance: "
                         "collection ${required_approvals}, element variable required_approval, completion "
                         "condition ${decision != \"approve\"}."),
        "properties": [
            {"type": "Hidden", "value": "policy", "binding": {"type": "camunda:property", "name": "assignee"}},
            _property(_("Decisions"), "decisions", _DECISIONS)],
    }]


@bp.get("/element-templates.json")
@role_required(ADMIN)
def element_templates() -> Any:
    """SealFlow's operators as Camunda 7 element templates (a service task whose topic is the operator), and its
    user-task steps."""
    return jsonify(_step_templates() + [{
        "$schema": _SCHEMA, "name": _(t.name), "id": f"sealflow.{t.operator}", "version": 1,
        "description": _(t.description),
        "appliesTo": ["bpmn:ServiceTask"],
        "properties": [
            {"type": "Hidden", "value": "external", "binding": {"type": "property", "name": "camunda:type"}},
            {"type": "Hidden", "value": t.operator, "binding": {"type": "property", "name": "camunda:topic"}},
            {"label": _("Result variable"), "type": "String", "value": t.result,
             "binding": {"type": "property", "name": "camunda:resultVariable"}},
            *({"label": _(p.label), "type": "String" if p.editable else "Hidden", "value": p.value,
               "binding": {"type": "camunda:inputParameter", "name": p.name}} for p in t.parameters),
        ],
    } for t in TEMPLATES])


@bp.post("/validate")
@role_required(ADMIN)
def validate() -> Any:
    """The server's validator on the modeler's diagram (the same code as `flows validate`), problems by element;
    warnings (which do not stop a deployment) beside them."""
    xml = _posted()[0]
    problems, warnings = flows.validate_diagram(xml, "modeler.bpmn"), flows.diagram_warnings(xml, "modeler.bpmn")
    return jsonify(problems=[asdict(p) for p in problems], warnings=[asdict(w) for w in warnings])


def _posted() -> tuple[bytes, dict[str, Any]]:
    """The diagram a JSON request carries, and the rest of the request."""
    body = posted_json()
    body = body if isinstance(body, dict) else {}
    xml = body.get("xml")
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput(_("Send the diagram as JSON: {\"xml\": \"…\"}."))
    return xml.encode(), body


@bp.post("/deployments")
@role_required(ADMIN)
def request_deployment() -> Any:
    """Ask for the modeler's diagram to be deployed; a second seal administrator approves it."""
    xml, body = _posted()
    comment = body.get("comment")
    found = deployments.request_process(xml, "modeler.bpmn", comment if isinstance(comment, str) else "", me(),
                                        actor())
    db.session.commit()
    flash(_("Deployment requested: it takes effect once another seal administrator approves it."), "success")
    return jsonify(url=url_for("flows.deployment", request_id=found.id)), 201


@bp.get("/deployments/<int:request_id>")
@role_required(ADMIN)
def deployment(request_id: int) -> Any:
    found = deployments.get_request(request_id)
    return render_template("flows/deployment.html", deployment=found, task_id=deployments.review_task_id(found),
                           decisions=deployments.decisions_of(found))


@bp.get("/deployments/<int:request_id>.bpmn")
@role_required(ADMIN)
def deployment_xml(request_id: int) -> Any:
    found = deployments.get_request(request_id)
    return _bpmn(found.content, f"{found.subject}-request-{found.id}.bpmn")


@bp.post("/deployments/<int:request_id>/withdraw")
@role_required(ADMIN)
def withdraw(request_id: int) -> Any:
    deployments.withdraw(request_id, me(), actor())
    db.session.commit()
    flash(_("Deployment request withdrawn."), "success")
    return redirect(url_for("flows.deployment", request_id=request_id))


@bp.get("/<process_id>/diff")
@role_required(ADMIN)
def diff(process_id: str) -> Any:
    """Two versions side by side, what changed highlighted: ?from=1&to=2, or ?request=<id> against its base."""
    request_id = request.args.get("request", type=database_int)
    if request_id is not None:
        found = deployments.get_request(request_id)
        base = found.base_version
        old = (url_for("flows.download", process_id=found.subject, version=base, form="modeler"),
               _("version %(n)s", n=base)) if base is not None else (url_for("flows.blank"), _("nothing deployed"))
        new = (url_for("flows.deployment_xml", request_id=found.id, form="modeler"),
               _("deployment request %(n)s", n=found.id))
    else:
        before = flows.get_version(process_id, request.args.get("from", 1, type=database_int))
        after = flows.get_version(process_id, request.args.get("to", before.version + 1, type=database_int))
        old = (url_for("flows.download", process_id=process_id, version=before.version, form="modeler"),
               _("version %(n)s", n=before.version))
        new = (url_for("flows.download", process_id=process_id, version=after.version, form="modeler"),
               _("version %(n)s", n=after.version))
    return render_template("flows/diff.html", process_id=process_id, old=old, new=new)

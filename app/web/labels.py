"""Translated labels for values shown in the pages (statuses, decisions, processes, history, HTTP errors)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models import HumanTask
from app.services import audit, filing, statistics
from app.web.forms import (
    DECISION_LABELS,
    DOCUMENT_TYPE_LABELS,
    REVOCATION_REASON_LABELS,
    SEAL_KIND_LABELS,
)

if TYPE_CHECKING:
    from app.pdf import EvidenceApproval, Revocation, SignatureReport, VerificationReport


def diagram_text(text: str) -> str:
    """A name or label a diagram gives: the catalog's translation for the shipped diagrams' (forms.DIAGRAM_TEXTS),
    as written otherwise (gettext returns an unknown text unchanged)."""
    return _(text) if text else text


def process_label(process_id: str) -> str:
    """A process by the name its diagram gives it."""
    return diagram_text(filing.process_name(process_id))


STATUS_LABELS = {
    "pending": _l("Pending approval"), "returned": _l("Returned for revision"), "withdrawn": _l("Withdrawn"),
    "rejected": _l("Rejected"), "sealing": _l("Being sealed"), "sealed": _l("Sealed"), "failed": _l("Failed"),
}
TASK_STATE_LABELS = {"ready": _l("waiting"), "completed": _l("done"), "cancelled": _l("cancelled")}
DEPLOYMENT_STATUS_LABELS = {
    "pending": _l("Waiting for a second seal administrator"), "deployed": _l("Deployed"), "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"), "failed": _l("Failed"),
}
SEAL_STATUS_LABELS = {"active": _l("Active"), "suspended": _l("Suspended"), "revoked": _l("Revoked")}
VERDICT_LABELS = {
    "valid": _l("Valid"), "invalid": _l("Invalid"), "untrusted": _l("Not trusted"),
    "revoked": _l("Invalid: seal revoked"),
    "modified": _l("Changed after signing"), "unsigned": _l("Not signed"),
}
# Whether the approval evidence a verified PDF carries is evidence (app.pdf.EvidenceReport.state).
EVIDENCE_LABELS = {
    "covered": _l("Covered by the signature: these approvals are part of what was signed"),
    "not-covered": _l("Not covered by any signature, so it is not evidence"),
    "changed": _l("Changed after signing, so it is not evidence"),
    "unreadable": _l("The approval evidence cannot be read"),
}
# The reasons a CRL entry may give; SealFlow's own CRL gives one of the three a seal administrator chooses, or none.
REASON_LABELS = {**REVOCATION_REASON_LABELS, "unspecified": _l("reason not recorded")}
STATUS_TITLES = {
    400: _l("Bad request"), 401: _l("Not logged in"), 403: _l("Not allowed"), 404: _l("Not found"),
    409: _l("Already done"), 413: _l("Upload too large"), 422: _l("Cannot accept this"), 500: _l("Server error"),
}
# The process history's events (app.workflow.history); others are shown as recorded.
HISTORY_ACTION_LABELS = {
    "process.started": _l("Process started"), "task.ready": _l("Task opened"), "task.completed": _l("Task completed"),
    "service.started": _l("Background job queued"), "service.completed": _l("Background job finished"),
    "process.completed": _l("Process finished"), "process.cancelled": _l("Process cancelled"),
    "process.failed": _l("Process failed"), "task.cancelled": _l("Task closed without a decision"),
    "timer.fired": _l("Deadline passed"), "decision.evaluated": _l("Policy table applied"),
    "service.failed": _l("Background job failed; the process took its error path"),
    "task.decision_refused": _l("Decision refused (separation of duties)"),
    "application.submitted": _l("Application filed"), "document.sealed": _l("Document sealed"),
    "document.signed": _l("Document signed by a party"), "sealing.refused": _l("Sealing refused by the gate"),
    # A seal's history (its page).
    "seal.created": _l("Seal added"), "seal.renamed": _l("Renamed"), "seal.holders_changed": _l("Holders changed"),
    "seal.status_changed": _l("Status changed"), "seal.image_replaced": _l("New image version"),
    "seal.certificate_renewed": _l("Certificate renewed"),
    "seal.key_moved_to_token": _l("Key moved into the hardware token"),
    # The audit page's own event.
    "audit.checked": _l("Audit log checked"),
}

# What an audit event is about (its object_type), as the audit page names it.
OBJECT_TYPE_LABELS = {
    "seal_application": _l("Application"), "process_instance": _l("Process"), "seal": _l("Seal"),
    "user": _l("Person"), "department": _l("Department"), "signature_authorization": _l("Signature authorization"),
    "process_definition": _l("Process version"), "deployment_request": _l("Deployment request"),
    "policy_version": _l("Policy table version"), "job": _l("Background job"), "directory": _l("Directory"),
    "import": _l("People import"), "audit_log": _l("Audit log"),
}


def action_label(action: str) -> str:
    """An audit action in words: the history's labels, a status change as the status it set, else as recorded."""
    if action in HISTORY_ACTION_LABELS:
        return str(HISTORY_ACTION_LABELS[action])
    status = action.removeprefix("application.")
    if status in STATUS_LABELS:
        return _("Status: %(status)s", status=STATUS_LABELS[status])
    return action


def decision_label(value: str) -> str:
    """A decision as words (approve → Approve); a word SealFlow does not know is shown as itself."""
    return str(DECISION_LABELS.get(value, value))


def acting(who: str, whom: str | None) -> str:
    """Who acted: "Olga", or "Olga on behalf of Harry" when a substitute did."""
    return who if whom is None else _("%(who)s on behalf of %(whom)s", who=who, whom=whom)


def done_by(task: HumanTask) -> str:
    """Who completed a task, and for whom when a substitute did."""
    if task.completed_by is None:
        return ""
    return acting(task.completed_by.display_name, task.on_behalf_of.display_name if task.on_behalf_of else None)


def approved_by(approval: EvidenceApproval) -> str:
    """Who made an approval a signed PDF's evidence records, and for whom when a substitute did."""
    return acting(approval.name, approval.on_behalf_of)


def revocation_reason_label(value: str | None) -> str:
    """An RFC 5280 reason code as words; None (a seal revoked before reasons were recorded) is "not recorded"."""
    return str(REASON_LABELS.get(value or "unspecified", value))


def utc(moment: datetime) -> str:
    """A time as the pages show it."""
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def duration(delta: timedelta) -> str:
    """A wait as the pages show it, to the minute: "45 min", "2 h 30 min", "3 d 4 h"."""
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return _("%(days)s d %(hours)s h", days=days, hours=hours)
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    return _("%(minutes)s min", minutes=minutes)


def _revoked(revocation: Revocation) -> dict[str, str]:
    return {"date": utc(revocation.revoked_at), "reason": revocation_reason_label(revocation.reason.value)}


def signature_verdict(signature: SignatureReport) -> str:
    """A signature's verdict as words, saying when and why its seal was revoked if it was."""
    revocation = signature.revocation
    if revocation is None or signature.kind != "signature":
        return str(VERDICT_LABELS.get(signature.verdict, signature.verdict))
    if signature.revoked_later:
        return _("Valid — seal revoked later, on %(date)s (%(reason)s)", **_revoked(revocation))
    if signature.revoked and signature.trusted_time is not None:
        return _("Invalid: the seal was revoked on %(date)s (%(reason)s), before this signature's trusted time-stamp",
                 **_revoked(revocation))
    if signature.revoked:
        return _("Invalid: the seal was revoked on %(date)s (%(reason)s), and no trusted time-stamp proves this "
                 "signature was made before", **_revoked(revocation))
    return str(VERDICT_LABELS.get(signature.verdict, signature.verdict))


def report_verdict(report: VerificationReport) -> str:
    """The document's verdict as words: its worst signature's, which says when a valid one's seal was revoked."""
    for signature in report.signatures:
        if signature.verdict == report.verdict and signature.revocation is not None:
            return signature_verdict(signature)
    return str(VERDICT_LABELS.get(report.verdict, report.verdict))


def template_helpers() -> dict[str, Any]:
    """Names every template can use."""
    return {
        "current_locale": str(get_locale() or "en"),
        "status_label": lambda value: STATUS_LABELS.get(value, value),
        "document_type_label": lambda value: DOCUMENT_TYPE_LABELS.get(value, value),
        "status_title": lambda code: STATUS_TITLES.get(code, str(code)),
        "verdict_label": lambda value: VERDICT_LABELS.get(value, value),
        "seal_kind_label": lambda value: SEAL_KIND_LABELS.get(value, value),
        "seal_status_label": lambda value: SEAL_STATUS_LABELS.get(value, value),
        "revocation_reason_label": revocation_reason_label,
        "signature_verdict": signature_verdict,
        "report_verdict": report_verdict,
        "utc": utc,
        "duration": duration,
        "decision_label": decision_label,
        "process_label": process_label,
        "diagram_text": diagram_text,
        "task_state_label": lambda value: TASK_STATE_LABELS.get(value, value),
        "action_label": lambda value: HISTORY_ACTION_LABELS.get(value, value),
        "object_type_label": lambda value: OBJECT_TYPE_LABELS.get(value, value),
        "done_by": done_by,
        "approved_by": approved_by,
        "evidence_label": lambda value: EVIDENCE_LABELS.get(value, value),
        "deployment_status_label": lambda value: DEPLOYMENT_STATUS_LABELS.get(value, value),
        "may_view_statistics": statistics.may_view,
        "may_read_audit_log": audit.may_read_log,
    }

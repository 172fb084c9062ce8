"""The certificate of completion: for a sealed application, a PDF of its history (requester, document hashes, each
decision with time and person, each signature as a verifier reads it, the audit chain's head and its anchor, and the
path on the diagram) signed with the organisation's system seal, so that `pdf verify` accepts it anywhere the
organisation's root is trusted."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import InvalidTransition
from app.extensions import db
from app.models import ApplicationStatus, AuditAnchor, AuditEvent, DocumentKind, HumanTask, SealApplication, User
from app.models.timestamps import utcnow
from app.pdf import SignSpec, make_signer, read_evidence, sign_pdf
from app.pdf.certificate import SIGNATURE_BOX, CertificateSpec, DiagramBox, DiagramLine, TableSpec, render_certificate
from app.services import applications, documents, keys, verification
from app.services.documents import pdf_errors
from app.services.process_path import application_path
from app.workflow.path import layout

__all__ = ["certificate_of_completion"]

def _when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment is not None else ""


def _person(user: User | None) -> str:
    return f"{user.display_name} ({user.username})" if user is not None else ""


def _decider(task: HumanTask) -> str:
    if task.on_behalf_of is None:
        return _person(task.completed_by)
    return _("%(who)s for %(whom)s", who=_person(task.completed_by), whom=_person(task.on_behalf_of))


def _decisions(application: SealApplication, decision_label: Callable[[str], str]) -> TableSpec:
    steps = [t for t in applications.approval_steps(application) if t.completed_at is not None]
    rows = tuple((t.name, str(t.level or ""), decision_label(t.decision or ""), _decider(t), _when(t.completed_at),
                  t.comment or "", (t.document_sha256 or "")[:16])
                 for t in sorted(steps, key=lambda t: (t.completed_at, t.id)))
    return TableSpec(_("Decisions"), (_("Step"), _("Level"), _("Decision"), _("Decided by"), _("When"), _("Comment"),
                                      _("Document (SHA-256)")), (0.17, 0.06, 0.1, 0.2, 0.15, 0.19, 0.13), rows)


def _signatures(sealed: bytes) -> TableSpec:
    report = verification.verify_document(sealed)
    rows = tuple((s.seal_name or s.signer, s.signer, _when(s.trusted_time or s.signing_time),
                  _("valid") if s.valid and s.trusted else _("not valid"))
                 for s in report.signatures)
    return TableSpec(_("Signatures in the sealed document"), (_("Seal"), _("Signer"), _("Time"), _("Verdict")),
                     (0.3, 0.35, 0.2, 0.15), rows)


def _chain_facts(sealed: bytes) -> tuple[tuple[str, str], ...]:
    with pdf_errors():
        evidence = read_evidence(sealed) or {}
    head = evidence.get("audit_chain_head")
    if not isinstance(head, str):
        return ()
    event = db.session.execute(select(AuditEvent.seq).where(AuditEvent.hash == head)).scalar()
    anchor = db.session.execute(select(AuditAnchor).where(AuditAnchor.seq >= (event or 0))
                                .order_by(AuditAnchor.seq).limit(1)).scalar() if event else None
    facts = [(_("Audit chain head at sealing"), f"{head} (#{event})" if event else head)]
    if anchor is not None:
        facts.append((_("Time-stamped in the chain"), _("with event #%(seq)s at %(when)s", seq=anchor.seq,
                                                        when=_when(anchor.at))))
    return tuple(facts)


def _diagram(application_id: int, user: User) -> tuple[tuple[DiagramBox, ...], tuple[DiagramLine, ...]]:
    path = application_path(application_id, user)
    drawn = layout(path.definition.bpmn_xml.encode())
    boxes = tuple(DiagramBox(s.kind, s.name, s.bounds, path.now.done.get(s.element_id, 0),
                             s.element_id in path.now.waiting) for s in drawn.shapes)
    lines = tuple(DiagramLine(e.points, path.now.flows.get(e.flow_id, 0)) for e in drawn.edges)
    return boxes, lines


def certificate_of_completion(application_id: int, user: User, decision_label: Callable[[str], str] = str,
                              document_type_label: Callable[[str], str] = str) -> bytes:
    """The signed certificate of a sealed application the user may see (InvalidTransition while it is not sealed);
    the labels put a decision (approve, reject …) and a document type in the reader's words."""
    application = applications.viewable_application(application_id, user)
    if application.status != ApplicationStatus.SEALED:
        raise InvalidTransition(f"application {application.id} is not sealed: it has no certificate of completion")
    original, sealed = application.document(DocumentKind.ORIGINAL), application.document(DocumentKind.SEALED)
    assert original is not None and sealed is not None  # a sealed application has both
    sealed_content = documents.read_content(sealed)
    boxes, lines = _diagram(application.id, user)
    requester = application.requester
    facts = (
        (_("Application"), f"#{application.id} · {application.title}" if application.title else f"#{application.id}"),
        (_("Counterparty"), application.counterparty),
        (_("Document type"), document_type_label(application.document_type)),
        (_("Amount"), "" if application.amount is None else f"{application.amount:,.2f}"),
        (_("Copies"), str(application.copies)),
        (_("Requester"), _person(requester) + (f" · {requester.department.name}" if requester.department else "")),
        (_("Reason"), application.reason), (_("Filed"), _when(application.created_at)),
        (_("Seal"), application.seal.name),
        (_("Original document"), f"{original.filename} · SHA-256 {original.sha256}"),
        (_("Sealed document"), _("version %(version)s · SHA-256 %(sha256)s · %(when)s", version=sealed.version,
                                 sha256=sealed.sha256, when=_when(sealed.created_at))),
        *_chain_facts(sealed_content),
    )
    organisation = current_app.config["ORGANISATION_NAME"]
    spec = CertificateSpec(
        title=_("Certificate of completion"),
        subtitle=_("%(organisation)s · seal application #%(id)s", organisation=organisation, id=application.id),
        facts=tuple((label, value) for label, value in facts if value),
        tables=(_decisions(application, decision_label), _signatures(sealed_content)),
        diagram_heading=_("The path on the diagram"), boxes=boxes, lines=lines,
        legend=_("Green: steps done and flows taken (×N: passes); amber: waiting; grey: not reached."),
        closing=_("This certificate was issued by SealFlow from the audit log and signed with the organisation's "
                  "system seal; check it with “pdf verify” or any PAdES verifier trusting the organisation's root."),
        footer=_("Issued %(when)s for %(who)s", when=_when(utcnow()), who=user.display_name),
        page_label=_("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"))
    with pdf_errors():
        unsigned = render_certificate(spec)
        return sign_pdf(unsigned, make_signer(keys.system_identity()),
                        SignSpec(field_name="SealFlow_certificate", page_index=0, box=SIGNATURE_BOX,
                                 reason=_("Certificate of completion of application #%(id)s", id=application.id),
                                 location=organisation),
                        timestamper=keys.timestamper(), long_term=keys.long_term())


"""The shipped approval processes beside seal_application, driven the way users and the worker drive them:
countersign, leader_signature and multi_party_signing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.runner import run_job
from app.models import (
    ApplicationStatus,
    DocumentKind,
    HumanTask,
    Job,
    JobStatus,
    ProcessDefinition,
    RoleName,
    Seal,
    SealApplication,
    SealKind,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import accounts, applications, approvals, documents, flows, keys, seals, verification
from app.services.applications import ApplicationSpec
from app.services.sealing import leader_page_seal
from tests.conftest import PASSWORD, Org, corpus_pdf, work_off_queue
from tests.pdf.verifiers import assert_independently_valid

ACTOR = Actor.system("test")
FOUR_PAGES = "pdflatex-4-pages.pdf"


def _user(org: Org, username: str, roles: set[RoleName] | None = None) -> User:
    user = accounts.save_user(username, username.title(), PASSWORD, roles or {RoleName.APPROVER}, org.department)
    db.session.commit()
    return user


def _seal(org: Org, name: str, kind: SealKind, owner: User | None = None, custodian: User | None = None) -> Seal:
    """A seal the org's department may request, with its owner (a person's signature) or custodian."""
    shape = {SealKind.PERSONAL: "oval", SealKind.LEGAL_REPRESENTATIVE: "square"}.get(kind, "round")
    seal = seals.create_seal(name, kind, SealImageSpec(name.upper(), shape=shape), ACTOR, org.department)  # type: ignore[arg-type]
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=owner.id if owner else None,
                                                 custodian_ids=(custodian.id,) if custodian else (),
                                                 department_ids=(org.department.id,)), ACTOR)
    db.session.commit()
    return seal


def _file(org: Org, process_id: str, seal: Seal | None = None, pdf: str = "minimal-document.pdf",
          **choices: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=(seal or org.contract_seal).id, document_type="contract", filename="contract.pdf",
                           content=corpus_pdf(pdf), reason="Sign the supply contract", process_id=process_id,
                           **choices)  # type: ignore[arg-type]
    application = applications.submit(spec, org.employee, ACTOR).application
    db.session.commit()
    return application


def _decide(user: User, decision: str = "approve", comment: str = "") -> None:
    """The user takes a decision on the one task in their inbox."""
    [task] = approvals.inbox(user)
    approvals.decide(task.id, user, decision, comment or f"{decision} by {user.username}", ACTOR)
    db.session.commit()


def _status(application: SealApplication) -> ApplicationStatus:
    db.session.expire_all()
    return db.session.get(SealApplication, application.id).status  # type: ignore[union-attr]


def _outcome(application: SealApplication) -> str | None:
    return applications.process_of(db.session.get(SealApplication, application.id)).outcome  # type: ignore[arg-type]


def _sealed_versions(application: SealApplication) -> list[bytes]:
    db.session.expire_all()
    found = db.session.get(SealApplication, application.id)
    assert found is not None
    versions = sorted((d for d in found.documents if d.kind == DocumentKind.SEALED), key=lambda d: d.version)
    assert [d.version for d in versions] == list(range(1, len(versions) + 1))
    return [documents.read_content(d) for d in versions]


def _run_the_one_job_twice() -> None:
    """Run the one queued job, then again as the clock requeues a job whose worker died before saying it was done."""
    job = db.session.execute(select(Job).where(Job.status == JobStatus.QUEUED)).scalar_one()
    assert run_job(job.id) == "done"
    job.status = JobStatus.QUEUED
    db.session.commit()
    assert run_job(job.id) == "done"


# --- deployment ----------------------------------------------------------------------------------------------

def test_deploy_shipped_deploys_every_diagram_once(app: Flask, org: Org):
    shipped = {path.stem for path in flows.SHIPPED_DIR.glob("*.bpmn")}
    assert {"seal_application", "countersign", "leader_signature", "multi_party_signing"} <= shipped
    again = flows.deploy_shipped(ACTOR)  # the org fixture deployed them already: nothing new
    assert {d.process_id for d, _ in again} == shipped and not any(created for _, created in again)
    versions = {process_id: count for process_id, count in db.session.execute(
        select(ProcessDefinition.process_id, func.count()).group_by(ProcessDefinition.process_id))}
    assert versions == {process_id: 1 for process_id in shipped}
    assert all(flows.validate_file(path) == [] for path in flows.SHIPPED_DIR.glob("*.bpmn"))


# --- countersign ---------------------------------------------------------------------------------------------

def test_countersign_seals_once_every_countersigner_agreed(app: Flask, org: Org):
    signers = [_user(org, name) for name in ("cora", "carl", "cleo")]
    application = _file(org, "countersign", fields={"countersigners": tuple(u.id for u in signers)})
    _decide(org.head)
    assert [approvals.inbox(u)[0].name for u in signers] == ["Countersign"] * 3

    _decide(signers[2])
    _decide(signers[0])
    assert db.session.execute(select(Job)).first() is None  # one still to agree: nothing is sealed yet
    assert _status(application) == ApplicationStatus.PENDING
    _decide(signers[1])
    assert _status(application) == ApplicationStatus.SEALING

    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED
    assert _outcome(application) == "sealed"
    [sealed] = _sealed_versions(application)
    assert verification.verify_document(sealed).verdict == "valid"


def test_one_countersigner_rejecting_ends_it_and_clears_the_others_inboxes(app: Flask, org: Org):
    signers = [_user(org, name) for name in ("cora", "carl", "cleo")]
    application = _file(org, "countersign", fields={"countersigners": tuple(u.id for u in signers)})
    _decide(org.head)
    _decide(signers[0])
    _decide(signers[1], "reject", "The penalty clause is wrong")

    assert _status(application) == ApplicationStatus.REJECTED
    assert _outcome(application) == "rejected"
    assert all(approvals.inbox(u) == [] for u in signers)
    countersigning = db.session.execute(select(HumanTask).where(HumanTask.element_id == "countersigning")
                                        .order_by(HumanTask.id)).scalars().all()
    assert [(t.assignee_id, t.state, t.decision) for t in countersigning] == [
        (signers[0].id, TaskState.COMPLETED, "approve"), (signers[1].id, TaskState.COMPLETED, "reject"),
        (signers[2].id, TaskState.CANCELLED, None)]
    assert db.session.execute(select(Job)).first() is None
    assert _sealed_versions(application) == []


def test_a_department_head_rejection_never_reaches_the_countersigners(app: Flask, org: Org):
    signer = _user(org, "cora")
    application = _file(org, "countersign", fields={"countersigners": (signer.id,)})
    _decide(org.head, "reject", "Not this quarter")
    assert _status(application) == ApplicationStatus.REJECTED
    assert approvals.inbox(signer) == []


# --- leader's signature --------------------------------------------------------------------------------------

def _red_in_corner(png: Path, dpi: int) -> bool:
    """Whether seal red lies inside the leader's page-seal box, bottom-right (2 mm tolerance)."""
    image = Image.open(png).convert("RGB")
    per_mm = dpi / 25.4
    box = leader_page_seal()
    right = image.width - (box.x_mm - 2) * per_mm
    left = image.width - (box.x_mm + box.size_mm + 2) * per_mm
    bottom = image.height - (box.y_mm - 2) * per_mm
    top = image.height - (box.y_mm + box.size_mm * 1.5) * per_mm
    return any((p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90  # type: ignore[index]
               for x in range(int(left), int(right)) for y in range(int(top), int(bottom)))


def _pages_with_the_leader_seal(pdf: bytes, tmp_path: Path, dpi: int = 50) -> list[bool]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "signed.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-cropbox", "-r", str(dpi), str(source), str(tmp_path / "page")], check=True)
    return [_red_in_corner(png, dpi) for png in sorted(tmp_path.glob("page-*.png"))]


def test_leader_signature_puts_the_leaders_seal_on_every_page_and_signs_with_it(app: Flask, org: Org,
                                                                                   tmp_path: Path):
    seal = _seal(org, "Leo Legal Rep", SealKind.LEGAL_REPRESENTATIVE, owner=org.leader)
    application = _file(org, "leader_signature", seal, pdf=FOUR_PAGES)
    assert [r["approver"] for r in application.required_approvals] == ["department_head", "role:leader"]
    _decide(org.head)
    _decide(org.leader)  # the policy's leader level (the legal representative's seal needs one)
    work_off_queue(app)  # no signature authorization of leo's covers it: he is asked
    assert approvals.inbox(org.leader)[0].name == "Leader authorizes the signature"
    _decide(org.leader)  # the owner's own authorization: a step the flow adds, not a policy level
    work_off_queue(app)

    assert _status(application) == ApplicationStatus.SEALED, application.failure_reason
    [signed] = _sealed_versions(application)
    assert _pages_with_the_leader_seal(signed, tmp_path) == [True] * 4
    report = verification.verify_document(signed)
    assert report.verdict == "valid" and [s.seal_name for s in report.signatures] == ["Leo Legal Rep"]
    assert_independently_valid(signed, keys.root_certificate_pem(), tmp_path / "check")
    # The untouched original would carry no seal there: the check above sees the stamp, not the page.
    assert _pages_with_the_leader_seal(corpus_pdf(FOUR_PAGES), tmp_path / "original") == [False] * 4


def test_the_leader_declining_ends_it_unsigned(app: Flask, org: Org):
    seal = _seal(org, "Leo Personal", SealKind.PERSONAL, owner=org.leader)
    application = _file(org, "leader_signature", seal)
    _decide(org.head)
    work_off_queue(app)
    _decide(org.leader, "reject", "I will sign this one by hand")
    assert _status(application) == ApplicationStatus.REJECTED
    assert _outcome(application) == "rejected" and _sealed_versions(application) == []


def test_the_leader_signature_job_run_twice_signs_once(app: Flask, org: Org):
    seal = _seal(org, "Leo Personal", SealKind.PERSONAL, owner=org.leader)
    application = _file(org, "leader_signature", seal)
    _decide(org.head)
    work_off_queue(app)
    _decide(org.leader)
    _run_the_one_job_twice()
    assert len(_sealed_versions(application)) == 1
    assert _status(application) == ApplicationStatus.SEALED


# --- multi-party signing -------------------------------------------------------------------------------------

def _parties(org: Org, count: int) -> list[tuple[User, Seal]]:
    kinds = (SealKind.CONTRACT, SealKind.COMPANY, SealKind.FINANCE)
    users = [_user(org, f"party{n + 1}", {RoleName.EMPLOYEE}) for n in range(count)]
    return [(user, _seal(org, f"Party {n + 1} Seal", kinds[n % 3], custodian=user)) for n, user in enumerate(users)]


@pytest.mark.parametrize("count", [2, 3])
def test_parties_sign_in_order_each_signature_a_kept_version(app: Flask, org: Org, tmp_path: Path, count: int):
    parties = _parties(org, count)
    application = _file(org, "multi_party_signing", pdf=FOUR_PAGES,
                        fields={"parties": tuple((user.id, seal.id) for user, seal in parties)})
    _decide(org.head)
    for turn, (user, _) in enumerate(parties):
        # Only the party whose turn it is has the task; the next one waits for this signature.
        assert [len(approvals.inbox(u)) for u, _ in parties] == [int(n == turn) for n in range(count)]
        _decide(user)
        assert _status(application) == ApplicationStatus.SEALING
        work_off_queue(app)
        assert len(_sealed_versions(application)) == turn + 1

    assert _status(application) == ApplicationStatus.SEALED and _outcome(application) == "sealed"
    versions = _sealed_versions(application)
    for earlier, later in zip(versions, versions[1:], strict=False):
        assert later.startswith(earlier)  # an incremental update: every earlier signed revision is intact
    final = versions[-1]
    report = verification.verify_document(final)
    assert [s.seal_name for s in report.signatures] == [seal.name for _, seal in parties]
    assert all(s.verdict == "valid" for s in report.signatures), report
    assert_independently_valid(final, keys.root_certificate_pem(), tmp_path / "check", signatures=count)
    for number, version in enumerate(versions[:-1], start=1):
        assert_independently_valid(version, keys.root_certificate_pem(), tmp_path / f"v{number}", signatures=number)


def test_a_party_refusing_stops_it_with_the_earlier_signature_kept(app: Flask, org: Org):
    parties = _parties(org, 3)
    application = _file(org, "multi_party_signing",
                        fields={"parties": tuple((user.id, seal.id) for user, seal in parties)})
    _decide(org.head)
    _decide(parties[0][0])
    work_off_queue(app)
    [first] = _sealed_versions(application)
    _decide(parties[1][0], "reject", "We do not accept the new delivery terms")

    assert _status(application) == ApplicationStatus.REJECTED and _outcome(application) == "rejected"
    assert _sealed_versions(application) == [first]
    assert all(approvals.inbox(user) == [] for user, _ in parties)
    assert db.session.execute(select(func.count()).select_from(Job)).scalar() == 1


def test_the_party_signature_job_run_twice_signs_once(app: Flask, org: Org):
    parties = _parties(org, 2)
    application = _file(org, "multi_party_signing",
                        fields={"parties": tuple((user.id, seal.id) for user, seal in parties)})
    _decide(org.head)
    _decide(parties[0][0])
    _run_the_one_job_twice()
    assert len(_sealed_versions(application)) == 1
    assert len(approvals.inbox(parties[1][0])) == 1


def test_a_party_signs_only_with_a_seal_they_hold(app: Flask, org: Org):
    from app.errors import PolicyViolation

    leos_seal = _seal(org, "Leo Personal", SealKind.PERSONAL, owner=org.leader)
    [(party, seal)] = _parties(org, 1)
    for other in (leos_seal, org.contract_seal):  # someone else's signature; a company seal they do not keep
        with pytest.raises(PolicyViolation, match="not held by that party"):
            _file(org, "multi_party_signing",
                  fields={"parties": ((party.id, seal.id), (org.other_approver.id, other.id))})
        db.session.rollback()
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0
    application = _file(org, "multi_party_signing",
                        fields={"parties": ((party.id, seal.id), (org.leader.id, leos_seal.id))})
    assert _status(application) == ApplicationStatus.PENDING

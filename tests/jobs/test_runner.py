from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs.clock import tick
from app.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentKind,
    InstanceStatus,
    Job,
    JobStatus,
    SealApplication,
    SealStatus,
)
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, approvals, flows
from app.services.applications import ApplicationSpec
from tests.conftest import DATA, corpus_pdf, file_and_approve, work_off_queue


def test_a_seal_suspended_after_approval_fails_the_job_with_the_reason(app, client, org):
    application_id = file_and_approve(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    org.contract_seal.status = SealStatus.SUSPENDED
    db.session.commit()

    work_off_queue(app)
    db.session.expire_all()
    job = db.session.execute(select(Job)).scalar_one()
    assert job.status == JobStatus.FAILED and "suspended" in (job.error or "")
    application = db.session.get(SealApplication, application_id)
    assert application.status == ApplicationStatus.FAILED and "suspended" in (application.failure_reason or "")
    assert [d.kind.value for d in application.documents] == ["original"]


# --- retries with backoff, then the error boundary or a failed application --------------------------------------

ACTOR = Actor.system("test")
UNREACHABLE_TSA = "http://127.0.0.1:9/tsa"  # the discard port: nothing answers, as when the TSA is down


def _file(org, process_id: str = "seal_application") -> SealApplication:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="letter", filename="letter.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Send the letter",
                           process_id=process_id)
    application = applications.submit(spec, org.employee, ACTOR).application
    db.session.commit()
    return application


def _decide(user, decision: str = "approve") -> None:
    [task] = approvals.inbox(user)
    approvals.decide(task.id, user, decision, f"{decision} by {user.username}", ACTOR)
    db.session.commit()


def _job() -> Job:
    db.session.expire_all()
    return db.session.execute(select(Job).order_by(Job.id.desc()).limit(1)).scalar_one()


def _application(application: SealApplication) -> SealApplication:
    db.session.expire_all()
    found = db.session.get(SealApplication, application.id)
    assert found is not None
    return found


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_a_timestamp_authority_away_is_retried_with_growing_waits_until_it_answers(app, org):
    app.config["TSA_URL"] = UNREACHABLE_TSA
    application = _file(org)
    _decide(org.head)
    before = utcnow()
    work_off_queue(app)

    job = _job()
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and "time" in (job.error or "").lower()
    first_wait = job.next_attempt_at - before
    assert timedelta(seconds=30) <= first_wait < timedelta(seconds=60)
    assert _application(application).status == ApplicationStatus.SEALING
    work_off_queue(app)  # nothing is on the queue until the clock says the time has come
    assert _job().attempts == 1
    assert tick(now=before + timedelta(seconds=10)).jobs_requeued == 0

    assert tick(now=job.next_attempt_at).jobs_requeued == 1
    work_off_queue(app)
    job = _job()
    assert job.status == JobStatus.QUEUED and job.attempts == 2
    assert job.next_attempt_at - utcnow() > timedelta(seconds=100)  # 4 x 30 s this time

    app.config["TSA_URL"] = ""  # the timestamp authority is back (SealFlow's own)
    tick(now=job.next_attempt_at)
    work_off_queue(app)
    job = _job()
    assert job.status == JobStatus.DONE and job.attempts == 3 and job.error is None
    assert _application(application).status == ApplicationStatus.SEALED
    assert [e.details["attempt"] for e in _events("job.retry_scheduled")] == [1, 2]


def test_a_job_failing_every_attempt_fails_the_application_with_the_reason(app, org):
    app.config["TSA_URL"] = UNREACHABLE_TSA
    application = _file(org)
    _decide(org.head)
    for _ in range(app.config["JOB_MAX_ATTEMPTS"]):
        tick(now=utcnow() + timedelta(days=1))
        work_off_queue(app)

    job = _job()
    assert job.status == JobStatus.FAILED and job.attempts == app.config["JOB_MAX_ATTEMPTS"]
    found = _application(application)
    assert found.status == ApplicationStatus.FAILED and found.failure_reason == job.error
    assert applications.process_of(found).status == InstanceStatus.FAILED
    assert tick(now=utcnow() + timedelta(days=30)).jobs_requeued == 0
    assert [d.kind for d in found.documents] == [DocumentKind.ORIGINAL]


def test_a_failure_that_cannot_pass_is_not_retried(app, org):
    application = _file(org)
    _decide(org.head)
    org.contract_seal.status = SealStatus.SUSPENDED
    db.session.commit()
    work_off_queue(app)
    assert _job().status == JobStatus.FAILED and _job().attempts == 1
    assert _application(application).status == ApplicationStatus.FAILED
    assert _events("job.retry_scheduled") == []


def test_an_error_boundary_takes_over_when_sealing_fails_for_good_and_a_retry_from_there_seals(app, org):
    flows.deploy_file(DATA / "sealing_with_fallback.bpmn", ACTOR)
    db.session.commit()
    app.config["TSA_URL"] = UNREACHABLE_TSA
    application = _file(org, "sealing_with_fallback")
    _decide(org.head)
    for _ in range(app.config["JOB_MAX_ATTEMPTS"]):
        tick(now=utcnow() + timedelta(days=1))
        work_off_queue(app)

    assert _job().status == JobStatus.FAILED
    found = _application(application)
    assert found.status == ApplicationStatus.PENDING  # a person decides now; nothing failed for good
    [task] = approvals.inbox(org.seal_admin)
    assert task.element_id == "handle_failure" and task.decision_choices == ["retry", "reject"]
    [caught] = _events("service.failed")
    assert caught.details["caught_by"] == ["sealing_failed"] and "time" in caught.details["reason"].lower()

    app.config["TSA_URL"] = ""
    _decide(org.seal_admin, "retry")
    work_off_queue(app)
    assert _job().status == JobStatus.DONE
    found = _application(application)
    assert found.status == ApplicationStatus.SEALED
    assert applications.process_of(found).outcome == "sealed"


def test_an_attempt_whose_job_was_taken_keeps_nothing_and_the_document_is_sealed_once(app, org):
    """Worker A claims the job and stalls (a pause, a partition: its heartbeat stops); the clock queues the job again
    and worker B seals it. When A wakes and reaches its commit, the job is no longer its attempt's: A keeps
    nothing, and its failure, if it fails, settles nothing."""
    from app.jobs import runner
    from app.models import AuditEvent, Document, DocumentKind, Job, JobStatus
    from app.services import operators

    application = _file(org)
    _decide(org.head)
    job = db.session.execute(select(Job)).scalar_one()
    claimed_by_a = runner._claim(job.id)
    assert claimed_by_a is not None
    operation, params, instance_id, attempt_a = (claimed_by_a.operation, claimed_by_a.params,
                                                 claimed_by_a.instance_id, claimed_by_a.attempt)
    grace = timedelta(seconds=app.config["WORKER_TTL"])
    assert tick(now=utcnow() + grace * 1.5).jobs_recovered == 1  # A has been silent: queued again
    assert runner.run_job(job.id) == "done"  # worker B
    db.session.expire_all()

    # A, awake again, carries on where it was: its operator finds B's document, and its hold fails.
    operators.run_operator(operation, dict(params), instance_id, Actor.system("worker"))
    try:
        runner._hold(job.id, attempt_a)
        raise AssertionError("attempt A still held the job")
    except runner.Superseded:
        db.session.rollback()
    assert runner._failed(job.id, "the time-stamp authority did not answer", True, Actor.system("worker"),
                          attempt_a) == "already done"
    db.session.expire_all()
    settled = db.session.get(Job, job.id)
    assert settled.status == JobStatus.DONE and settled.attempts == 2
    sealed = db.session.execute(select(Document).where(Document.application_id == application.id,
                                                       Document.kind == DocumentKind.SEALED)).scalars().all()
    assert len(sealed) == 1
    assert len(db.session.execute(select(AuditEvent).where(AuditEvent.action == "document.sealed")).all()) == 1


def test_a_job_whose_workers_die_on_every_attempt_fails_for_good_instead_of_running_for_ever(app, org):
    from app.jobs import runner
    from app.models import ApplicationStatus, AuditEvent, Job, JobStatus

    application = _file(org)
    _decide(org.head)
    job_id = db.session.execute(select(Job.id)).scalar_one()
    grace = timedelta(seconds=app.config["WORKER_TTL"])
    for attempt in range(1, app.config["JOB_MAX_ATTEMPTS"] + 1):
        assert runner._claim(job_id) is not None  # a worker takes it, then dies without a word
        recovered = tick(now=utcnow() + grace * 1.5 * attempt).jobs_recovered
        assert recovered == (1 if attempt < app.config["JOB_MAX_ATTEMPTS"] else 0)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == JobStatus.FAILED and "stopped during each of its 3 attempts" in (job.error or "")
    assert db.session.get(SealApplication, application.id).status == ApplicationStatus.FAILED
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "job.failed")).first() is not None


def test_a_sealing_job_reads_each_row_once_and_embeds_the_head_its_claim_chained(app, org):
    """What the job already holds is not asked again: the chain's head the claim computed (the sealed document
    carries it), the application with its seal, image, requester's name and documents in one read, the next
    version from those documents, the job's row with its second hold; the gate and the fencing still run."""
    import io
    import json

    import pikepdf
    from sqlalchemy import event

    from app.pdf import EVIDENCE_FILE
    from app.services import audit, documents

    application = _file(org)
    application.watermark = True
    db.session.commit()
    _decide(org.head)
    statements: list[str] = []
    listener = lambda *args: statements.append(" ".join(args[2].split()))  # noqa: E731

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        work_off_queue(app)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)

    db.session.expire_all()
    found = db.session.get(SealApplication, application.id)
    assert found.status == ApplicationStatus.SEALED
    sealed = found.document(DocumentKind.SEALED)
    with pikepdf.open(io.BytesIO(documents.read_content(sealed))) as pdf:
        head = json.loads(pdf.attachments[EVIDENCE_FILE].get_file().read_bytes())["audit_chain_head"]
    # The claim chained the approval and what followed it; the job's own events wait for the clock.
    chained = db.session.execute(select(AuditEvent).where(AuditEvent.seq.is_not(None))
                                 .order_by(AuditEvent.seq)).scalars().all()
    assert head == chained[-1].hash == audit.chain_head() and "task.completed" in {e.action for e in chained}
    assert "document.sealed" not in {e.action for e in chained}

    def count(start: str) -> int:
        return sum(s.startswith(start) for s in statements)

    assert count("SELECT audit_events.seq, audit_events.hash") == 1  # the claim's, not the evidence's again
    assert count("SELECT documents.") == count("SELECT max(documents.version)") == 0  # read with the application
    assert count("SELECT seal_images.") == count("SELECT seals.id, seals.name") == 0
    assert count("SELECT users.display_name") == 0  # the watermark's name came with the application
    assert count("SELECT seal_applications.") == 2  # for the sealing, then under the process's lock to follow it
    assert count("SELECT jobs.id FROM jobs WHERE jobs.id") == count("SELECT jobs.id, jobs.") == 1  # the two holds
    if db.engine.dialect.name == "postgresql":
        assert sum(s.startswith("SELECT jobs.") and s.endswith("FOR UPDATE") for s in statements) == 2
    # The gate and the fencing as before: the approvals and their deciders' names, the seal's state for signing.
    assert count("SELECT human_tasks.") == count("SELECT users.id, users.display_name") == 1
    assert count("SELECT seals.id, seals.status") == 1

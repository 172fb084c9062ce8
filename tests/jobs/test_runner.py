from sqlalchemy import select

from app.extensions import db
from app.models import ApplicationStatus, Job, JobStatus, SealApplication, SealStatus
from tests.conftest import corpus_pdf, file_and_approve, work_off_queue


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

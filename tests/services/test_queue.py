"""Jobs are queued with a timeout scaled to their document's pages; a job that Redis could not take waits in the
database for the clock."""

from __future__ import annotations

from rq.job import Job as RqJob
from sqlalchemy import select

from app.extensions import db
from app.models import Job, JobStatus
from app.models.audit import Actor
from app.services import applications, approvals
from app.services.applications import ApplicationSpec
from app.services.queue import job_timeout, redis_connection
from tests.conftest import contract_pdf

ACTOR = Actor.system("test")


def _approved(org, pages: int) -> Job:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                           content=contract_pdf(pages=pages), reason="Sign the contract")
    applications.submit(spec, org.employee, ACTOR)
    db.session.commit()
    [task] = approvals.inbox(org.head)
    approvals.decide(task.id, org.head, "approve", "", ACTOR)
    db.session.commit()
    return db.session.execute(select(Job).order_by(Job.id.desc()).limit(1)).scalar_one()


def test_a_sealing_job_gets_a_base_timeout_plus_its_pages_worth(app, org):
    app.config.update(JOB_TIMEOUT_SECONDS=60, JOB_TIMEOUT_PAGE_SECONDS=2.5)
    job = _approved(org, pages=7)
    assert job_timeout(job) == 60 + 18  # 7 x 2.5 s, rounded up
    assert RqJob.fetch(job.key, connection=redis_connection()).timeout == 78  # as queued after the commit

    app.config.update(JOB_TIMEOUT_PAGE_SECONDS=0)
    assert job_timeout(job) == 60


def test_a_decision_whose_job_redis_cannot_take_is_kept_for_the_clock(app, org):
    app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"  # nothing listens there: Redis is away
    app.extensions.pop("sealflow.redis", None)
    job = _approved(org, pages=1)  # committed without an error
    assert job.status == JobStatus.QUEUED and job.next_attempt_at is None  # what the clock's sweep queues

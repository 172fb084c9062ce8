"""A SealFlow organisation on a database of the bench's choosing, with approved applications whose sealing jobs are
queued: what bench/pdf_pipeline.py and bench/batch.py seal. Everything goes through SealFlow's own services (filing,
the department head's approval, the job row the workflow queues), as it does in production."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from flask import Flask  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Job, JobStatus, RoleName, SealKind, User  # noqa: E402
from app.models.audit import Actor  # noqa: E402
from app.pdf import SealImageSpec  # noqa: E402
from app.services import accounts, applications, approvals, flows, keys, seals  # noqa: E402
from app.services.applications import ApplicationSpec  # noqa: E402
from config import TestConfig  # noqa: E402

PASSWORD = "bench password"
SYSTEM = Actor.system("bench")


def build_app(instance_dir: Path, database_uri: str, redis_url: str = "", **settings: Any) -> Flask:
    """A SealFlow app on the given database and Redis (embedded when no URL is given)."""
    return create_app(TestConfig(instance_dir, SQLALCHEMY_DATABASE_URI=database_uri, REDIS_URL=redis_url, **settings))


@dataclass(frozen=True)
class Organisation:
    """The ids the bench needs: an employee, their department head (the one approval a contract needs), a seal."""

    employee_id: int
    head_id: int
    seal_id: int


def create_organisation() -> Organisation:
    """The root CA, an employee in Sales under a head, a contract seal of Sales; the shipped flows deployed."""
    keys.ensure_root_ca()
    sales = accounts.get_or_create_department("Sales")
    employee = accounts.save_user("emma", "Emma", PASSWORD, {RoleName.EMPLOYEE}, sales)
    head = accounts.save_user("harry", "Harry", PASSWORD, {RoleName.EMPLOYEE, RoleName.APPROVER}, sales)
    sales.head = head
    seal = seals.create_seal("Contract Seal", SealKind.CONTRACT, SealImageSpec("BENCH ORG", "CONTRACT SEAL"),
                             SYSTEM, sales)
    flows.deploy_shipped(SYSTEM)
    db.session.commit()
    return Organisation(employee.id, head.id, seal.id)


def approve_applications(org: Organisation, content: bytes, count: int) -> list[int]:
    """File `count` applications for the contract seal on the PDF (riding seal, watermark, QR code), each approved
    by the department head; the ids of their queued sealing jobs (enqueued on RQ as the approvals commit)."""
    employee, head = db.session.get(User, org.employee_id), db.session.get(User, org.head_id)
    assert employee is not None and head is not None
    filed = []
    for number in range(count):
        spec = ApplicationSpec(seal_id=org.seal_id, document_type="contract", filename=f"contract-{number}.pdf",
                               content=content, reason="Bench contract", riding_seal=True, watermark=True)
        filed.append(applications.submit(spec, employee, Actor.of(employee)).application.id)
        db.session.commit()
    for task in approvals.inbox(head):
        approvals.decide(task.id, head, "approve", "fine", Actor.of(head))
        db.session.commit()
    jobs = list(db.session.execute(select(Job.id).where(Job.operation == "seal_document",
                                                        Job.status == JobStatus.QUEUED).order_by(Job.id)).scalars())
    if len(jobs) != count:
        raise RuntimeError(f"{count} applications approved, but {len(jobs)} sealing jobs are queued")
    return jobs

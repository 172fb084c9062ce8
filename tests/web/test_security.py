"""The web tier's baseline (app/web/security.py): headers on every answer, redirects only to this site, downloads
named safely, the session cookie Secure behind https."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from sqlalchemy import select, update

from app import create_app
from app.extensions import db
from app.models import AuditEvent, Document, RoleName, User
from config import TestConfig
from tests.conftest import PASSWORD, corpus_pdf, login


def test_every_answer_carries_the_security_headers(client, org):
    for response in (client.get("/login"), client.get("/healthz"), client.get("/no/such/page")):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # served over http here


def test_behind_https_the_cookie_is_secure_and_hsts_is_sent(instance_dir, _schema):
    app: Flask = create_app(TestConfig(instance_dir, PUBLIC_URL="https://seal.example.com"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example",
                                    "/%0a/evil.example", "/\\t/evil.example"])
def test_login_and_the_language_switch_never_redirect_to_another_site(client, org, target):
    response = client.post(f"/login?next={target}", data={"username": "emma", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    switched = client.post("/language/en", data={"next": target.replace("%09", "\t").replace("%0a", "\n")})
    assert switched.status_code == 302 and switched.location == "/"


def test_a_local_next_is_kept(client, org):
    response = client.post("/login?next=/inbox", data={"username": "emma", "password": PASSWORD})
    assert response.location == "/inbox"


def test_a_download_is_named_safely_as_an_attachment(client, org):
    login(client, "emma")
    response = client.post("/applications/new", data={
        "seal_id": str(org.contract_seal.id), "document_type": "letter", "title": "Bank letter", "reason": "r",
        "document": (io.BytesIO(corpus_pdf("minimal-document.pdf")), "invoice.pdf")},
        content_type="multipart/form-data")
    application_id = int(re.search(r"/applications/(\d+)$", response.location).group(1))
    # The name a raw multipart request can carry (a test client quotes it away): quotes and parameters of its own.
    hostile = 'invoice.html"; filename*=UTF-8\'\'invoice.html; x=".pdf'
    db.session.execute(update(Document).values(filename=hostile))
    db.session.commit()
    download = client.get(f"/applications/{application_id}/documents/original")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.count('"') == 2
    assert disposition.endswith(".pdf") and "invoice.html;" not in disposition.split("filename*=")[0]
    assert download.headers["X-Content-Type-Options"] == "nosniff" and download.mimetype == "application/pdf"
    stored = db.session.execute(select(Document.filename)).scalar_one()
    assert stored == hostile  # kept as given; only its use in a header is cleaned


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_logout_ends_every_session_a_copied_cookie_included(app, client, org):
    login(client, "emma")
    stolen = _session_cookie(client)
    assert client.get("/inbox").status_code == 200
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    answer = thief.get("/inbox")
    assert answer.status_code == 302 and "/login" in answer.location  # the copied cookie no longer logs in
    logged = [e.action for e in db.session.execute(select(AuditEvent).where(AuditEvent.object_id == str(
        org.employee.id))).scalars()]
    assert "sessions.ended" in logged


def test_a_new_password_or_deactivation_ends_the_users_sessions(app, client, org):
    from app.models.audit import Actor
    from app.services import accounts

    login(client, "emma")
    assert client.get("/inbox").status_code == 200
    accounts.save_user("emma", "Emma", PASSWORD + "!", {RoleName.EMPLOYEE}, org.department)  # a new password
    db.session.commit()
    assert client.get("/inbox").status_code == 302
    login_with = client.post("/login", data={"username": "emma", "password": PASSWORD + "!"})
    assert login_with.status_code == 302 and client.get("/inbox").status_code == 200
    accounts.save_user("emma", "Emma", PASSWORD + "!", {RoleName.EMPLOYEE}, org.department)  # same password
    db.session.commit()
    assert client.get("/inbox").status_code == 200  # saving the same password ends nothing
    accounts.set_active(db.session.get(User, org.employee.id), False, Actor.system("test"))
    db.session.commit()
    assert client.get("/inbox").status_code == 302


def test_failed_logins_are_throttled_per_account_and_per_address(app, client, org):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=5)
    for _ in range(3):
        assert client.post("/login", data={"username": "emma", "password": "wrong"}).status_code == 401
    refused = client.post("/login", data={"username": "emma", "password": PASSWORD})  # right, but too late
    assert refused.status_code == 429 and "Too many failed logins. Try again in 15 minutes." in refused.text
    assert client.get("/inbox").status_code == 302  # not logged in
    throttled = db.session.execute(select(AuditEvent).where(AuditEvent.action == "login.throttled")).scalars().all()
    assert [e.actor_name for e in throttled] == ["emma"]
    # Another account from the same address still logs in, until the address has failed too often.
    assert client.post("/login", data={"username": "harry", "password": PASSWORD}).status_code == 302
    client.post("/logout")
    for _ in range(2):
        client.post("/login", data={"username": "olga", "password": "wrong"})
    assert client.post("/login", data={"username": "sam", "password": PASSWORD}).status_code == 429


def test_a_successful_login_clears_the_accounts_failures(app, client, org):
    app.config.update(LOGIN_MAX_FAILURES=3)
    for _ in range(2):
        client.post("/login", data={"username": "emma", "password": "wrong"})
    assert client.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 302
    client.post("/logout")
    for _ in range(2):
        client.post("/login", data={"username": "emma", "password": "wrong"})
    assert client.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 302


def _filing_data(token: str) -> dict:
    return {"seal_id": "1", "document_type": "letter", "title": "Bank letter", "reason": "Once",
            "submission_token": token, "document": (io.BytesIO(corpus_pdf("minimal-document.pdf")), "once.pdf")}


def test_a_filing_form_sent_twice_files_one_application(client, org):
    from app.models import SealApplication

    login(client, "emma")
    form = client.get("/applications/new?process=seal_application").text
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', form).group(1)
    first = client.post("/applications/new", data=_filing_data(token), content_type="multipart/form-data")
    again = client.post("/applications/new", data=_filing_data(token), content_type="multipart/form-data")
    assert first.status_code == again.status_code == 302 and first.location == again.location
    assert len(db.session.execute(select(SealApplication)).scalars().all()) == 1
    other = client.get("/applications/new?process=seal_application").text
    assert token not in other  # each filled-in form has its own token


def test_two_sends_of_one_form_at_the_same_moment_file_one_application(app, org):
    import threading

    from app.models import SealApplication
    from app.models.audit import Actor
    from app.services import applications

    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[tuple[int, bool]] = []
    seal_id, emma_id = org.contract_seal.id, org.employee.id  # read here: the threads have sessions of their own

    def send() -> None:
        with app.app_context():
            spec = applications.ApplicationSpec(
                seal_id=seal_id, document_type="letter", filename="once.pdf",
                content=corpus_pdf("minimal-document.pdf"), reason="Once", submission_token="ab" * 16)
            emma = db.session.get(User, emma_id)
            barrier.wait()
            try:
                submitted = applications.submit(spec, emma, Actor.of(emma))
                db.session.commit()
                outcomes.append((submitted.application.id, submitted.again))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and len({application_id for application_id, _ in outcomes}) == 1, outcomes
    assert sorted(again for _, again in outcomes) == [False, True]
    assert len(db.session.execute(select(SealApplication)).scalars().all()) == 1

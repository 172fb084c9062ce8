"""/audit over HTTP: only auditors and seal administrators, the filters, bad parameters answered clearly, the chain's
status, and the check run by a form with its CSRF token, which the log records."""

import re

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from app.models.audit import Actor, record
from app.services import audit
from tests.conftest import contract_pdf, file_application, login, logout


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _chain() -> None:
    while audit.extend_chain():
        db.session.commit()


def test_refused_to_others_and_asks_a_stranger_to_log_in(client, org):
    assert client.get("/audit").status_code == 302  # to the login page
    assert client.post("/audit/check").status_code == 302
    for username in ("emma", "harry", "leo"):
        login(client, username)
        assert client.get("/audit").status_code == 403
        assert client.post("/audit/check").status_code == 403
        assert 'id="nav-audit"' not in client.get("/seals").text
        logout(client)
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.checked")).first() is None


def test_the_log_filtered_with_the_objects_linked(client, org):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    record(Actor(None, "<script>x</script>", "10.1.2.3"), "thing.made", "thing", 7, note="<b>n</b>")
    db.session.commit()
    login(client, "alice")
    page = client.get("/seals").text
    assert 'id="nav-audit"' in page and page.index('id="nav-audit"') < page.index('href="/verify"')

    filed = client.get("/audit", query_string={"object_type": "seal_application"}).text
    assert f'<a href="/applications/{application_id}">Application {application_id}</a>' in filed
    assert "waiting to be chained" in filed and "thing.made" not in filed.split('id="audit-events"')[1]
    # The process's events lead to its application too; a family of actions is offered and picked.
    process = client.get("/audit", query_string={"action": "process.", "actor": "EMM"}).text
    assert '<option value="process." selected>' in process
    assert f'<a href="/applications/{application_id}">Process ' in process and "Process started" in process
    assert "1 event matches" in process
    odd = client.get("/audit", query_string={"actor": "script"}).text
    assert "&lt;script&gt;x&lt;/script&gt;" in odd and "<script>x" not in odd and "10.1.2.3" in odd
    assert "note: &lt;b&gt;n&lt;/b&gt;" in odd
    none = client.get("/audit", query_string={"from": "2001-01-01", "to": "2001-01-02"}).text
    assert "0 events match" in none and "No event matches." in none


def test_pages_keep_the_filter(client, org):
    for i in range(7):
        record(Actor(None, "bot", None), "thing.made", "thing", i)
    db.session.commit()
    login(client, "sam")
    first = client.get("/audit", query_string={"actor": "bot", "per_page": 3}).text
    assert "Page 1 of 3" in first and 'href="/audit?actor=bot&amp;per_page=3&amp;page=2" rel="next"' in first
    last = client.get("/audit", query_string={"actor": "bot", "per_page": 3, "page": 3}).text
    assert "Page 3 of 3" in last and "thing 0" in last and "thing 1" not in last


@pytest.mark.parametrize(("query", "message"), [
    ({"from": "2026-02-30"}, "is not a date"), ({"to": "yesterday"}, "is not a date"),
    ({"from": "2026-05-01", "to": "2026-04-01"}, "ends before it starts"), ({"to": "9999-12-31"}, "out of range"),
    ({"page": "two"}, "whole number"), ({"page": "0"}, "numbered from 1"), ({"page": "9" * 5000}, "whole number"),
    ({"per_page": "1000"}, "1 to 200"), ({"actor": "a\x00"}, "NUL"),
])
def test_bad_parameters_are_a_clear_400(client, org, query, message):
    login(client, "alice")
    answer = client.get("/audit", query_string=query)
    assert answer.status_code == 400 and 'id="search-problem"' in answer.text and message in answer.text
    assert 'id="chain-status"' in answer.text  # the rest of the page is still there


def test_the_check_needs_its_csrf_token_chains_first_and_is_recorded(app, client, org):
    login(client, "emma")
    file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    login(client, "alice")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        token = _csrf(client.get("/audit").text)
        assert client.post("/audit/check").status_code == 400
        answer = client.post("/audit/check?action=task.", data={"csrf_token": token})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert answer.status_code == 200
    assert "The log is intact" in answer.text and '<option value="task." selected>' in answer.text
    [checked] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.checked")).scalars()
    assert checked.actor_name == "alice" and checked.details == {"events": checked.details["events"], "problems": 0}
    assert checked.details["events"] > 5 and checked.seq is None  # what was committed before it was chained
    status = client.get("/audit").text
    assert "Audit log checked<br><code>audit.checked</code>" in status and "Audit log chain" in status
    assert re.search(r'id="chain-length">(\d+)<', status).group(1) == str(checked.details["events"])


def test_the_check_lists_every_problem(client, org):
    record(Actor(None, "bot", None), "thing.made", "thing", 1)
    record(Actor(None, "bot", None), "thing.made", "thing", 2)
    db.session.commit()
    _chain()
    db.session.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2"))
    db.session.commit()
    login(client, "alice")
    answer = client.post("/audit/check")
    assert answer.status_code == 200 and "The log is intact" not in answer.text
    problems = re.search(r'<ul id="check-problems">(.*?)</ul>', answer.text, re.S).group(1)
    assert "<li>event #2 (id " in problems and "changed after it was written" in problems
    [checked] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.checked")).scalars()
    assert checked.details["problems"] == problems.count("<li>")

"""Substitutes: naming one, listing, ending early; a substitute's inbox and decisions for the absent user."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, HumanTask, Substitution, TaskState
from app.models.timestamps import utcnow
from tests.conftest import corpus_pdf, file_application, login, logout, ready_task_id
from tests.web.test_flows_pages import review_flow  # noqa: F401  (fixture)

FORMAT = "%Y-%m-%dT%H:%M"


def _period(start=timedelta(hours=-1), end=timedelta(days=2)) -> dict[str, str]:
    now = utcnow()
    return {"starts_at": (now + start).strftime(FORMAT), "ends_at": (now + end).strftime(FORMAT)}


def _name(client, substitute_id, reason="Business trip", **period):
    return client.post("/away", data={"substitute_id": str(substitute_id), "reason": reason,
                                      **(period or _period())})


def _substitutions() -> int:
    return db.session.execute(select(func.count()).select_from(Substitution)).scalar()


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def test_every_user_has_the_page_in_the_navigation(client, org):
    assert client.get("/away").status_code == 302  # a login first
    login(client, "alice")
    assert 'href="/away"' in client.get("/", follow_redirects=True).text  # her home is the archive
    page = client.get("/away").text
    assert "No substitution is running or planned." in page and "UTC" in page
    options = re.search(r'<select[^>]*id="substitute_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "Olga" in options and "Alice" not in options


def test_name_a_substitute_and_both_see_it(client, org):
    login(client, "harry")
    response = _name(client, org.other_approver.id)
    assert response.status_code == 302
    page = _text(client.get(response.location))
    assert "Olga acts for you from" in page and "Business trip" in page and "running" in page
    substitution = db.session.execute(select(Substitution)).scalar_one()
    assert (substitution.user_id, substitution.substitute_id) == (org.head.id, org.other_approver.id)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "substitute.named")).scalar_one()
    assert event.actor_name == "harry" and event.details["substitute"] == "olga"
    logout(client)
    login(client, "olga")
    row = re.search(rf'<tr id="substitution-{substitution.id}">(.*?)</tr>', client.get("/away").text, re.S).group(1)
    assert "Harry" in row and "Business trip" in row and "<form" not in row  # only harry ends it


def test_a_planned_substitution_can_be_cancelled(client, org):
    login(client, "harry")
    _name(client, org.other_approver.id, **_period(timedelta(days=3), timedelta(days=5)))
    substitution = db.session.execute(select(Substitution)).scalar_one()
    page = client.get("/away").text
    assert "planned" in page and f'id="end-{substitution.id}"' in page
    assert client.post(f"/away/{substitution.id}/end").status_code == 302
    db.session.expire_all()
    assert db.session.get(Substitution, substitution.id).cancelled_at is not None
    assert "No substitution is running or planned." in client.get("/away").text


@pytest.mark.parametrize("fields, message", [
    (_period(timedelta(days=2), timedelta(days=1)), "the period must end after it starts"),
    (_period(timedelta(days=-3), timedelta(days=-1)), "the period is already over"),
    ({"starts_at": "tomorrow", "ends_at": "later"}, "Not a valid datetime value."),
    ({"starts_at": "", "ends_at": ""}, "Give a date and time."),
    ({"substitute_id": ""}, "Choose who acts for you."),
    ({"substitute_id": "HARRY"}, "Not a valid choice."),  # not yourself
    ({"substitute_id": "99999"}, "Not a valid choice."),
    ({"reason": "x" * 201}, "Field cannot be longer than 200 characters."),
])
def test_wrong_values_are_refused_and_nothing_is_stored(client, org, fields, message):
    login(client, "harry")
    data = {"substitute_id": str(org.other_approver.id), "reason": "", **_period(), **fields}
    data["substitute_id"] = data["substitute_id"].replace("HARRY", str(org.head.id))
    response = client.post("/away", data=data)
    assert response.status_code == 422 and message in html.unescape(response.text), response.text
    assert _substitutions() == 0


def test_an_overlapping_period_is_refused(client, org):
    login(client, "harry")
    assert _name(client, org.other_approver.id).status_code == 302
    response = _name(client, org.seal_admin.id, **_period(timedelta(days=1), timedelta(days=4)))
    assert response.status_code == 422 and "already named a substitute for part of that period" in response.text
    assert _substitutions() == 1


def test_only_the_absent_user_ends_it(client, org):
    login(client, "harry")
    _name(client, org.other_approver.id)
    substitution_id = db.session.execute(select(Substitution.id)).scalar_one()
    logout(client)
    login(client, "olga")
    response = client.post(f"/away/{substitution_id}/end")
    assert response.status_code == 404 and f"substitution {substitution_id} does not exist" in response.text
    assert client.post("/away/99999/end").status_code == 404
    assert db.session.get(Substitution, substitution_id).cancelled_at is None


def test_the_substitute_decides_on_behalf_of_the_absent_approver(client, org, review_flow):  # noqa: F811
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    logout(client)
    login(client, "olga")
    assert "Nothing is waiting for you." in client.get("/inbox").text
    logout(client)
    login(client, "harry")
    _name(client, org.other_approver.id)
    logout(client)

    login(client, "olga")
    inbox = client.get("/inbox").text
    row = re.search(r'<tr><td><a href="/tasks/(\d+)">.*?</tr>', inbox, re.S)
    assert row and re.search(r'<td class="on-behalf">Harry</td>', row.group(0))
    task_id = int(row.group(1))
    page = _text(client.get(f"/tasks/{task_id}"))
    assert "You act on behalf of Harry" in page
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": "for Harry"}).status_code == 302
    task = db.session.get(HumanTask, task_id)
    assert task.state == TaskState.COMPLETED
    assert (task.completed_by_id, task.on_behalf_of_id) == (org.other_approver.id, org.head.id)
    # Olga took part, so she may read the application now.
    assert client.get(f"/applications/{application_id}").status_code == 200
    logout(client)

    login(client, "emma")
    page = _text(client.get(f"/applications/{application_id}"))
    assert "Olga on behalf of Harry" in page and "On behalf of: Harry" in page
    logout(client)
    login(client, "harry")  # his own task shows who did it for him
    assert "Olga on behalf of Harry" in _text(client.get(f"/tasks/{task_id}"))


def test_after_ending_the_substitute_no_longer_sees_the_task(client, org, review_flow):  # noqa: F811
    login(client, "emma")
    file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    logout(client)
    login(client, "harry")
    _name(client, org.other_approver.id)
    task_id = ready_task_id(client)
    substitution_id = db.session.execute(select(Substitution.id)).scalar_one()
    logout(client)
    login(client, "olga")
    assert ready_task_id(client) == task_id
    logout(client)
    login(client, "harry")
    assert client.post(f"/away/{substitution_id}/end").status_code == 302
    logout(client)
    login(client, "olga")
    assert "Nothing is waiting for you." in client.get("/inbox").text
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve"}).status_code == 404
    assert db.session.get(HumanTask, task_id).state == TaskState.READY

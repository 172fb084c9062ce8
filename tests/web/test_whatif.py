"""The what-if and back-test pages over HTTP: seal administrators only, the path with who and why, a draft kept for a
run with other decisions, bad input refused with a clear message, the back-test's report, the modeler's warnings;
nothing is stored by any of it."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.audit import Actor
from app.services import applications
from app.services.applications import ApplicationSpec
from tests.conftest import DATA, contract_pdf, login, logout
from tests.services.test_whatif import LOWER_LEADER, SHIPPED
from tests.workflow.test_simulation import row_counts

JSON = {"Accept": "application/json"}


def _form(org, **changes) -> dict:
    return {"version": "seal_application@1", "policy": "deployed", "seal_id": str(org.contract_seal.id),
            "document_type": "contract", "amount": "500,000", "requester_id": str(org.employee.id),
            "department_id": "", **changes}


def _draft(content: bytes, name: str = "lower_leader.dmn") -> tuple:
    return (io.BytesIO(content), name)


def _steps(page: str) -> list[str]:
    return re.findall(r'<li class="card step-(\w+)"', page)


@pytest.mark.parametrize("path", ["/flows/what-if", "/flows/back-test"])
def test_only_seal_administrators_open_them(client, org, path):
    login(client, "emma")
    assert client.get(path).status_code == 403
    assert client.post(path, data={}).status_code == 403
    logout(client)
    login(client, "sam")
    assert client.get(path).status_code == 200
    page = client.get("/flows").text
    assert 'href="/flows/what-if"' in page and 'href="/flows/back-test"' in page


def test_the_path_names_each_step_who_is_asked_and_why_and_stores_nothing(client, org):
    login(client, "sam")
    db.session.commit()
    before = row_counts()
    answer = client.post("/flows/what-if", data=_form(org))
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert _steps(page) == ["user_task", "user_task", "service_task", "end"]
    assert "Level 1: Department head" in page and "Asked: <span class=\"person\">Harry</span>" in page
    assert "Level 2: Leader: contract of 100,000 or more" in page and "Leaders" in page and "Leo" in page
    assert "Stamp and sign" in page and "Ends at “Sealed”" in page and "Under the deployed seal policy." in page
    assert row_counts() == before


def test_a_draft_is_kept_for_a_run_with_another_decision(client, org):
    login(client, "sam")
    first = client.post("/flows/what-if", data=_form(org, amount="50000", policy="draft", draft=_draft(LOWER_LEADER)),
                        content_type="multipart/form-data")
    assert first.status_code == 200, first.text
    assert "Under a draft seal policy (lower_leader.dmn)" in first.text and _steps(first.text).count("user_task") == 2
    assert 'id="draft-kept"' in first.text
    kept = re.search(r'name="draft_text" type="hidden" value="([^"]*)"', first.text).group(1)
    rerun = _form(org, amount="50000", policy="draft", draft_text=html.unescape(kept), draft_name="lower_leader.dmn",
                  **{"decision-2": "reject"})
    again = client.post("/flows/what-if", data=rerun)
    assert again.status_code == 200, again.text
    assert _steps(again.text) == ["user_task", "user_task", "end"] and "Ends at “Rejected”" in again.text


@pytest.mark.parametrize("changes, says", [
    ({"amount": "-5"}, "Give an amount of 0 or more"),
    ({"seal_id": "9999"}, "Not a valid choice"),
    ({"version": "seal_application@99"}, "Not a valid choice"),
    ({"policy": "draft"}, "Choose the draft policy file"),
    ({"policy": "draft", "draft": _draft(b"<broken", "broken.dmn")}, "not well-formed XML"),
    ({"policy": "draft", "draft": _draft(b'<!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>', "bomb.dmn")}, "DOCTYPE"),
    ({"policy": "draft", "draft": _draft(SHIPPED.replace('"role:leader"', "open('/etc/passwd')").encode())},
     "refused"),
])
def test_bad_input_gives_a_clear_error_and_changes_nothing(client, org, changes, says):
    login(client, "sam")
    db.session.commit()
    before = row_counts()
    answer = client.post("/flows/what-if", data=_form(org, **changes), content_type="multipart/form-data")
    assert answer.status_code == 422 and says in answer.text
    assert 'id="what-if-result"' not in answer.text
    assert row_counts() == before


def test_the_back_test_lists_what_the_draft_changes_and_refuses_bad_input(client, org):
    actor = Actor.system("test")
    for amount in ("50000", "500000"):
        applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                                            content=contract_pdf(), reason="supply", amount=Decimal(amount)),
                            org.employee, actor)
    db.session.commit()
    login(client, "sam")
    before = row_counts()
    answer = client.post("/flows/back-test", data={"draft": _draft(LOWER_LEADER), "months": "12"},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.text
    assert "2 applications judged: 1 routed differently, 0 refused by the draft, 1 unchanged." in answer.text
    assert answer.text.count('<tr id="application-') == 1 and "50,000.00" in answer.text
    for months, says in (("0", "from 1 to 36"), ("37", "from 1 to 36"), ("x", "Not a valid integer")):
        refused = client.post("/flows/back-test", data={"draft": _draft(LOWER_LEADER), "months": months},
                              content_type="multipart/form-data")
        assert refused.status_code == 422 and says in refused.text
    broken = client.post("/flows/back-test", data={"draft": _draft(b"not xml", "x.dmn"), "months": "3"},
                         content_type="multipart/form-data")
    assert broken.status_code == 422 and "not well-formed XML" in broken.text
    missing = client.post("/flows/back-test", data={"months": "3"}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose the draft policy file" in missing.text
    assert row_counts() == before


def test_the_modelers_validation_answers_warnings_beside_problems(client, org):
    login(client, "sam")
    xml = (DATA / "requester_decides.bpmn").read_text()
    answer = client.post("/flows/validate", json={"xml": xml}, headers=JSON).json
    assert answer["problems"] == []
    assert {w["element_id"] for w in answer["warnings"]} == {
        "requester_approves", "camunda_requester", "among_candidates", "employees_group", "any_employee",
        "in_employees_lane"}

"""What the views share before they run (app/web/guards.py): a JSON body read strictly, and ids in URLs that fit
the database's integers. A request SealFlow cannot read is a 400 (or, for an id no row can have, a 404), never a
500, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, DeploymentRequest
from tests.conftest import login

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
JSON = {"Accept": "application/json"}
HUGE = 99999999999999999999999


def _written() -> tuple[int | None, ...]:
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar()
                 for m in (DeploymentRequest, AuditEvent))


@pytest.mark.parametrize(("body", "content_type", "said"), [
    (b'{"xml": "<x/>", "comment": ', "application/json", "not valid JSON"),
    (b'{"xml": "\xff<x/>", "comment": "why"}', "application/json", "not valid JSON"),  # not UTF-8
    (b'{"xml": "\\ud800", "name": "a.dmn", "comment": "why"}', "application/json", "lone surrogate"),
    (b'{"xml": "<x/>", "\\udfff": 1}', "application/json", "lone surrogate"),
    (b'{"xml": "<x/>", "name": "a\\u0000.dmn", "comment": "a\\u0000b"}', "application/json", "NUL character"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", "not valid JSON"),  # deeper than the parser goes
    (b'{"xml": "<x/>", "name": "a.dmn", "comment": ' + b"[" * 20 + b"]" * 20 + b"}", "application/json",
     "deeper than 20 levels"),  # 21 levels
    (b'{"xml": "<x/>"}', "text/plain", "as JSON"),
])
@pytest.mark.parametrize("path", ["/flows/validate", "/flows/deployments", "/policies/validate",
                                  "/policies/deployments"])
def test_a_body_that_cannot_be_read_answers_400_and_writes_nothing(client, org, path, body, content_type, said):
    login(client, "sam")
    before = _written()
    answer = client.post(path, data=body, content_type=content_type, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert said in answer.json["error"]
    db.session.expire_all()
    assert _written() == before


def test_a_body_nested_to_the_limit_is_read(client, org):
    login(client, "sam")
    body = json.dumps({"xml": SHIPPED.read_text(), "extra": json.loads("[" * 19 + "]" * 19)})  # 20 levels
    answer = client.post("/flows/validate", data=body, content_type="application/json", headers=JSON)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("path", [f"/applications/{HUGE}", f"/tasks/{HUGE}", f"/flows/deployments/{HUGE}",
                                  f"/seals/{HUGE}", f"/admin/users/{HUGE}", f"/flows/seal_application/{HUGE}",
                                  f"/applications/{2 ** 63}", f"/applications/{2 ** 63 - 1}",
                                  f"/applications/{2 ** 31}", f"/applications/{2 ** 31 - 1}"])
def test_an_id_larger_than_the_database_holds_is_not_found(client, org, path):
    login(client, "sam")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path, status", [
    (f"/flows/seal_application/diff?request={2 ** 31}", 200),  # read as no request: the two newest versions
    (f"/flows/seal_application/diff?from={HUGE}&to=1", 200),
    (f"/policies/required_approvals.dmn/diff?request={HUGE}", 404),  # one version only: nothing to compare
    (f"/seals/1?page={HUGE}", 200),
])
def test_a_number_in_the_query_string_larger_than_the_database_holds_reads_as_absent(client, org, path, status):
    login(client, "sam")
    assert client.get(path).status_code in (status, 404)  # never 500

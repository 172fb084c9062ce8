"""GET /applications/<id>/path.json (app/web/path.py): the diagram history as the page's viewer reads it, shown to
those who may see the application and to nobody else."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Org, login, logout
from tests.services.test_process_path import _file


def test_the_path_of_a_waiting_application_as_json(app: Flask, client: FlaskClient, org: Org):
    application_id = _file(org)
    login(client, "alice")
    response = client.get(f"/applications/{application_id}/path.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    path = response.get_json()
    assert path["application"] == application_id
    assert path["process"] == {"id": "seal_application", "name": "Seal application", "version": 1}
    assert path["diagram"].startswith("<?xml") and 'id="policy_approval"' in path["diagram"]
    assert path["now"] == {"done": {"submitted": 1, "to_review": 1}, "waiting": ["policy_approval"], "failed": [],
                           "flows": {"flow_to_review": 1, "flow_to_policy": 1}}
    first, *_, last = path["steps"]
    assert first["action"] == "application.submitted" and first["label"] == "Application filed"
    assert first["actor"] == "Emma" and first["element"] is None and first["at"].endswith("Z")
    assert first["changed"]["counterparty"] == "Acme" and first["data"]["counterparty"] == "Acme"
    assert first["state"]["done"] == {}
    assert last["element"] == "policy_approval" and last["state"] == path["now"]
    assert set(last) == {"id", "seq", "at", "actor", "on_behalf_of", "action", "label", "element", "decision",
                         "comment", "changed", "details", "state", "data"}
    assert [s["id"] for s in path["steps"]] == sorted(s["id"] for s in path["steps"])  # oldest first


def test_someone_who_may_not_see_the_application_gets_404(app: Flask, client: FlaskClient, org: Org):
    application_id = _file(org)
    login(client, "olga")  # an approver of another department, with no task on it
    assert client.get(f"/applications/{application_id}/path.json").status_code == 404
    assert client.get(f"/applications/{application_id}").status_code == 404
    logout(client)
    login(client, "emma")
    assert client.get(f"/applications/{application_id}/path.json").status_code == 200
    assert client.get(f"/applications/{application_id + 1000}/path.json").status_code == 404
    logout(client)
    assert client.get(f"/applications/{application_id}/path.json").status_code in (302, 401)

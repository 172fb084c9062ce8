"""/upkeep for seal administrators and auditors; the seals page warns administrators of certificates expiring soon."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Org, login


def test_the_page_lists_expiring_certificates_and_the_seals_page_warns(app: Flask, org: Org, client: FlaskClient):
    login(client, "sam")
    assert 'id="certificates-expiring"' not in client.get("/seals").text
    app.config["CERTIFICATE_WARNING_DAYS"] = 365 * 6
    assert 'id="certificates-expiring"' in client.get("/seals").text
    page = client.get("/upkeep")
    assert page.status_code == 200 and "Contract Seal" in page.text and 'id="upkeep-due"' in page.text


def test_others_get_403(app: Flask, org: Org, client: FlaskClient):
    login(client, "alice")
    assert client.get("/upkeep").status_code == 200
    assert 'id="certificates-expiring"' not in client.get("/seals").text  # auditors are not asked to renew
    client.post("/logout")
    login(client, "emma")
    assert client.get("/upkeep").status_code == 403

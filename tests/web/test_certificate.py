"""The application page offers the certificate of completion once the application is sealed."""

from __future__ import annotations

from flask import Flask

from tests.conftest import Org, login
from tests.services.test_certificate import _sealed_after_a_return


def test_the_application_page_offers_the_certificate_once_sealed(app: Flask, org: Org, client):
    application_id = _sealed_after_a_return(app, org)
    login(client, "alice")
    page = client.get(f"/applications/{application_id}")
    assert 'id="download-certificate"' in page.text
    response = client.get(f"/applications/{application_id}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and b"certificate-of-completion" in response.headers[
        "Content-Disposition"].encode()

"""/audit/anomalies: the flags with their evidence for the log's readers; 403 for others, 400 for a bad period."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models.timestamps import utcnow
from tests.conftest import Org, login
from tests.services.usage_data import application, seal_at


def test_the_page_shows_each_flag_with_its_applications(app: Flask, org: Org, client: FlaskClient):
    day = utcnow().replace(hour=12, minute=0) - timedelta(days=3)
    split = []
    for amount in (600_000, 700_000):
        filed = application(org.employee, org.contract_seal, title="分拆合同")
        filed.created_at, filed.amount, filed.counterparty = day, Decimal(amount), "上海远航物流有限公司"
        split.append(filed)
    night = application(org.employee, org.contract_seal, title="Night")
    night.created_at = day
    seal_at(night, org.contract_seal, datetime(day.year, day.month, day.day, 16, 30))  # 00:30 in Shanghai
    db.session.commit()
    login(client, "alice")
    page = client.get("/audit/anomalies")
    assert page.status_code == 200
    assert f"/applications/{split[0].id}" in page.text and f"/applications/{split[1].id}" in page.text
    assert "上海远航物流有限公司" in page.text and "1,300,000.00" in page.text
    assert 'id="anomalies-outside_hours"' in page.text and f"/applications/{night.id}" in page.text
    assert client.get("/audit/anomalies?from=2026-13-01").status_code == 400
    assert client.get("/audit/anomalies?from=2026-12-01&to=2026-11-01").status_code == 400


def test_others_get_403(app: Flask, org: Org, client: FlaskClient):
    login(client, "emma")
    assert client.get("/audit/anomalies").status_code == 403

from sqlalchemy import func, select

from app.extensions import db
from app.models import Seal, User
from tests.conftest import DATA


def test_seed_demo_is_idempotent_and_prints_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert first.output == second.output and "emma" in first.output and "alice" in first.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 5
    assert db.session.execute(select(func.count()).select_from(Seal)).scalar() == 3


def test_export_ca(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["pdf", "export-ca", "-o", str(tmp_path / "ca.pem")])
    assert result.exit_code == 0
    assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_flows_deploy_refuses_a_hostile_file(app):
    result = app.test_cli_runner().invoke(args=["flows", "deploy", str(DATA / "script_task.bpmn")])
    assert result.exit_code == 1 and "script tasks are not allowed" in result.output

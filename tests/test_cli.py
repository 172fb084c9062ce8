import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from sqlalchemy import func, select

from app.extensions import db
from app.models import Seal, User
from tests.conftest import CORPUS, DATA


def test_seed_demo_is_idempotent_and_prints_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert first.output == second.output and "emma" in first.output and "alice" in first.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 7
    owners = {s.name: (s.owner_user.username if s.owner_user else None)
              for s in db.session.execute(select(Seal)).scalars()}
    assert owners == {"Company Seal": None, "Contract Seal": None, "Finance Seal": None, "Leo's Signature": "leo",
                      "Legal Representative Seal": "lin"}


def test_export_ca(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["pdf", "export-ca", "-o", str(tmp_path / "ca.pem")])
    assert result.exit_code == 0
    assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_flows_deploy_refuses_a_hostile_file(app):
    result = app.test_cli_runner().invoke(args=["flows", "deploy", str(DATA / "script_task.bpmn")])
    assert result.exit_code == 1 and "script tasks are not allowed" in result.output


def test_embedded_redis_holds_the_server_until_sigterm_then_stops_it(tmp_path):
    """`manage.py serve` relies on this: the embedded server outlives web and worker, and does not leak."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["SEALFLOW_INSTANCE_PATH"] = str(tmp_path)
    holder = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "embedded-redis"], cwd=root, env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "embedded Redis is up" in holder.stderr.readline()  # type: ignore[union-attr]
        settings = json.loads((tmp_path / "redis.db.settings").read_text())
        client = Redis(unix_socket_path=settings["unixsocket"], retry=Retry(NoBackoff(), 0))
        client.set("kept", "1")
        holder.send_signal(signal.SIGINT)  # Ctrl-C goes to the whole group; the holder waits for SIGTERM
        assert holder.poll() is None and client.ping()
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=30) == 0
        with pytest.raises(RedisConnectionError):
            client.ping()
    finally:
        holder.kill()


def test_flows_validate_lists_problems_and_exits_non_zero(app, org):
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["flows", "validate", str(Path(__file__).resolve().parents[1] / "bpmn" /
                                                      "seal_application.bpmn")])
    assert ok.exit_code == 0 and ok.output.strip().endswith("seal_application.bpmn: ok")
    bad = runner.invoke(args=["flows", "validate", str(DATA / "validation_problems.bpmn")])
    assert bad.exit_code == 1 and "problem(s)" in bad.output
    assert "validation_problems.bpmn:15 [nobody (Nobody's task)] nobody can do this task" in bad.output


@pytest.mark.parametrize("path", sorted((CORPUS / "bpmn").rglob("*.bpmn")), ids=lambda p: p.name)
def test_every_corpus_diagram_validates_without_a_crash(app, org, path: Path):
    """The MIWG reference diagrams are descriptive models: each is listed with what it lacks, never a traceback."""
    result = app.test_cli_runner().invoke(args=["flows", "validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(str(path)) and "Traceback" not in result.output
    if result.exit_code == 1:
        assert len(lines) > 1 and all(line.startswith(f"  {path.name}") for line in lines[1:])


@pytest.mark.parametrize("command", ["validate", "deploy"])
def test_flows_validate_and_deploy_refuse_an_expression_that_would_crash_the_parser(app, org, tmp_path, command):
    """5,000 nested minus signs made `flows validate` and `flows deploy` print a RecursionError traceback."""
    xml = (DATA / "unsafe_condition.bpmn").read_text().replace("().__class__.__base__.__subclasses__()",
                                                               "-" * 5000 + "1 == 1")
    path = tmp_path / "deep.bpmn"
    path.write_text(xml)
    result = app.test_cli_runner().invoke(args=["flows", command, str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "[f2] expression refused: the expression is nested more than 64 levels deep" in result.output

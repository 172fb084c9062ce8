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
from app.models import ApplicationStatus, Seal, SealApplication, User
from tests.conftest import CORPUS, DATA, PASSWORD


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
    # The demo applications, filed once, wait for their first approval; the archive lists them.
    filed = db.session.execute(select(SealApplication).order_by(SealApplication.id)).scalars().all()
    assert [(a.requester.username, a.status) for a in filed] == [
        ("emma", ApplicationStatus.PENDING), ("emma", ApplicationStatus.PENDING),
        ("harry", ApplicationStatus.PENDING), ("leo", ApplicationStatus.PENDING)]
    assert filed[0].counterparty == "上海华东建设有限公司" and all(a.title for a in filed)


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


def test_users_create_with_a_generated_or_piped_password_then_set_roles_and_deactivate(app, org):
    from app.models import RoleName
    from app.services import accounts

    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "wang.fang", "--name", "王芳", "--department", "Sales",
                               "--role", "employee", "--role", "approver"])
    assert made.exit_code == 0, made.output
    password = made.output.split("password: ")[1].strip()
    assert accounts.authenticate("wang.fang", password, None) is not None
    piped = runner.invoke(args=["users", "create", "li.na", "--name", "Li Na", "--role", "employee",
                                "--password-stdin"], input="a chosen passphrase\n")
    assert piped.exit_code == 0 and "password" not in piped.output.replace("--password", "")
    assert accounts.authenticate("li.na", "a chosen passphrase", None) is not None
    short = runner.invoke(args=["users", "create", "x.y", "--name", "X", "--role", "employee", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output and accounts.find_user("x.y") is None
    unknown = runner.invoke(args=["users", "create", "x.y", "--name", "X", "--department", "Nowhere",
                                  "--role", "employee"])
    assert unknown.exit_code == 2 and "no department 'Nowhere'" in unknown.output

    roles = runner.invoke(args=["users", "set-roles", "wang.fang", "employee", "leader"])
    assert roles.exit_code == 0 and roles.output.strip() == "wang.fang: employee, leader"
    assert accounts.find_user("wang.fang").role_names == {RoleName.EMPLOYEE, RoleName.LEADER}
    wrong = runner.invoke(args=["users", "set-roles", "wang.fang", "wizard"])
    assert wrong.exit_code == 2 and "'wizard' is not one of" in wrong.output
    last = runner.invoke(args=["users", "set-roles", "sam", "employee"])
    assert last.exit_code == 1 and "last active seal administrator" in last.output

    gone = runner.invoke(args=["users", "deactivate", "harry"])
    assert gone.exit_code == 0 and "Sales has no head now" in gone.output
    assert accounts.authenticate("harry", PASSWORD, None) is None
    back = runner.invoke(args=["users", "reactivate", "harry"])
    assert back.exit_code == 0 and accounts.authenticate("harry", PASSWORD, None) is not None
    nobody = runner.invoke(args=["users", "deactivate", "nobody"])
    assert nobody.exit_code == 1 and "there is no user 'nobody'" in nobody.output
    accounts.find_user("harry").password_set_by_id = accounts.find_user("sam").id  # as a reset by sam leaves it
    db.session.commit()
    reset = runner.invoke(args=["users", "reset-password", "harry"])
    assert reset.exit_code == 0 and accounts.authenticate("harry", reset.output.split(": ")[1].strip(), None)
    db.session.expire_all()
    assert accounts.find_user("harry").password_set_by_id is None  # no seal administrator knows this one


def test_users_import_dry_run_then_real_run(app, org, tmp_path):
    from app.services import accounts

    roster = tmp_path / "people.csv"
    roster.write_bytes("\ufeffusername,display_name,department,roles,head\r\n"
                       "zhang.wei,张伟,财务部,employee approver,yes\r\n".encode())
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["users", "import", str(roster), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == ["line 2: create zhang.wei (display_name: — → 张伟; department: — → 财务部; "
                                       "roles: — → approver, employee; active: — → yes)",
                                       "line 2: department create 财务部",
                                       "line 2: department head 财务部 (zhang.wei)", "dry run: nothing applied"]
    assert accounts.find_user("zhang.wei") is None
    real = runner.invoke(args=["users", "import", str(roster)])
    assert real.exit_code == 0 and "applied: 1 created, 0 changed, 0 unchanged" in real.output
    password = real.output.split("password for zhang.wei: ")[1].strip()
    assert accounts.authenticate("zhang.wei", password, None) is not None
    roster.write_text("username,display_name,department,roles\r\nzhang.wei,张伟,财务部,employee wizard\r\n")
    refused = runner.invoke(args=["users", "import", str(roster)])
    assert refused.exit_code == 1 and "line 2: refuse zhang.wei (unknown role 'wizard'" in refused.output
    assert "nothing applied: 1 line(s) refused" in refused.output
    roster.write_bytes("username,display_name,department,roles\r\n".encode("utf-16"))
    encoded = runner.invoke(args=["users", "import", str(roster)])
    assert encoded.exit_code == 1 and "save it as “CSV UTF-8”" in encoded.output


def test_directory_sync_dry_run_then_sync(app, org, ldap):
    from tests.directory_server import PEOPLE_ENTRIES

    runner = app.test_cli_runner()
    dry = runner.invoke(args=["directory", "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "hugo: would be created" in dry.output and "department Head Office: would be created" in dry.output
    assert "emma: skipped (an account created in SealFlow has this username)" in dry.output
    assert dry.output.strip().endswith("dry run: nothing was changed")
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 6  # the org fixture's only
    done = runner.invoke(args=["directory", "sync"])
    assert done.exit_code == 0 and "hugo: created" in done.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 11
    ldap.delete(PEOPLE_ENTRIES["bob"][0])
    again = runner.invoke(args=["directory", "sync"])
    assert "bob: deactivated (no longer in the directory)" in again.output
    assert runner.invoke(args=["directory", "sync"]).output.strip().endswith("nothing to change")


def test_directory_sync_says_why_it_cannot_run(app, org, ldap):
    from tests.directory_server import free_port, use_directory

    use_directory(app, f"ldap://127.0.0.1:{free_port()}")
    result = app.test_cli_runner().invoke(args=["directory", "sync"])
    assert result.exit_code == 1 and "error: the directory cannot be reached" in result.output
    app.config["LDAP_URL"] = ""
    result = app.test_cli_runner().invoke(args=["directory", "sync"])
    assert result.exit_code == 1 and "error: no directory is configured" in result.output


def test_flask_db_upgrade_migrates_a_fresh_database_from_the_command_line(tmp_path):
    """`manage.py serve` runs `flask db upgrade`: the lazily loaded `db` group runs with its own options and
    callback (Flask-Migrate keeps --directory in flask.g for its commands)."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["SEALFLOW_INSTANCE_PATH"] = str(tmp_path)

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)

    upgraded = flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    current = flask("db", "current")
    assert current.returncode == 0 and "(head)" in current.stdout, current.stderr

"""SealFlow's web tier under 16 concurrent approvers on PostgreSQL, against a floor app served the same way.

Run by hand: `.venv/bin/python bench/http.py [--approvers 16] [--decisions 20] [--rounds 3] [--warmup 2]
[--workers 4] [--postgres URL] [--redis URL]`.

It makes a throwaway PostgreSQL database (dropped afterwards) and uses one Redis database (default
redis://127.0.0.1:6379/13, emptied first and afterwards), migrates SealFlow's schema there, creates one department
per approver (its head is the approver, an employee files in it), and files `rounds × decisions` applications per
department through `applications.submit`, so that each approver has that many department-head steps waiting.
Then two gunicorn servers with the same number of sync workers:

* SealFlow: `wsgi:app`, configured by the environment as in production (no worker runs: the sealing jobs that the
  approvals enqueue wait in Redis, so that the machine's cores serve only the web requests);
* floor: `bench.http_floor:app` (see that file): a minimal Flask + Flask-SQLAlchemy app whose decision is
  `SELECT … FOR UPDATE`, UPDATE, a hash-chained audit INSERT and commit, and whose inbox is one indexed SELECT.

Each approver is a thread with its own HTTP connection and session cookie, logged in beforehand (SealFlow through
its login form). First an untimed round of `warmup` decisions per approver on each side, so that every worker
process has served requests before the timing (imports on first use, compiled templates, prepared statements, on
both sides alike). A round runs SealFlow, then the floor: every approver repeats `decisions` times GET /inbox, then
POST the decision (approve, with the CSRF token) on the first task it lists, not following the redirect. Rounds
alternate the two servers so that a busy spell falls on both.

It prints, for each side, decisions per second (all decisions of a round over the round's wall time), the p95 of
the POST and of GET /inbox, then the ratios: `approve_throughput_ratio=` (SealFlow / floor),
`approve_p95_ratio=` and `inbox_p95_under_load_ratio=` (SealFlow / floor).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/http.py`, this file's folder comes first on the path, where "http" would name this file and
# not the standard library's package: the folder gives way to the checkout root before anything imports http.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

import argparse  # noqa: E402
import http.client  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from decimal import Decimal  # noqa: E402
from http.cookies import SimpleCookie  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
PASSWORD = "bench password 16"
BIN = Path(sys.executable).parent
TASK_LINK = re.compile(r'href="/tasks/(\d+)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One approver's HTTP connection with its cookies (gunicorn's sync workers close it after each answer;
    http.client opens it again)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.connection.close()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, text


@dataclass
class Side:
    name: str
    port: int
    approvers: list[Browser] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    inboxes: list[float] = field(default_factory=list)
    errors: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn on port {port} did not come up")


def gunicorn(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                                "--log-level", "warning", app], cwd=ROOT, env=env, start_new_session=True)
    wait_up(port, process)
    return process


def fill(approvers: int, per_approver: int) -> None:
    """SealFlow's schema, organisation and waiting department-head steps (approvers head0, head1, …)."""
    from flask_migrate import upgrade
    from reportlab.pdfgen.canvas import Canvas

    from app import create_app
    from app.extensions import bind_migrations, db
    from app.models import RoleName, SealKind
    from app.models.audit import Actor
    from app.pdf import SealImageSpec
    from app.services import accounts, applications, flows, keys, seals
    from app.services.applications import ApplicationSpec

    app = create_app()
    bind_migrations(app)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        actor = Actor.system("bench")
        keys.ensure_root_ca()
        employees, departments = [], []
        for n in range(approvers):
            department = accounts.get_or_create_department(f"Department {n}")
            departments.append(department)
            head = accounts.save_user(f"head{n}", f"Head {n}", PASSWORD, {RoleName.EMPLOYEE, RoleName.APPROVER},
                                      department)
            department.head = head
            employees.append(accounts.save_user(f"emp{n}", f"Employee {n}", PASSWORD, {RoleName.EMPLOYEE},
                                                department))
        seal = seals.create_seal("Contract Seal", SealKind.CONTRACT, SealImageSpec("BENCH ORG", "CONTRACT SEAL"),
                                 actor, None)
        seal.user_departments = departments  # every department may request it
        flows.deploy_shipped(actor)
        db.session.commit()
        buffer = __import__("io").BytesIO()
        canvas = Canvas(buffer)
        canvas.drawString(72, 720, "Supply contract")
        canvas.showPage()
        canvas.save()
        content = buffer.getvalue()
        started = time.perf_counter()
        for k in range(per_approver):
            for employee in employees:
                applications.submit(ApplicationSpec(seal_id=seal.id, document_type="contract", filename="c.pdf",
                                                    content=content, reason=f"supply {k}", amount=Decimal(1000)),
                                    employee, Actor.of(employee))
            db.session.commit()
        print(f"filed {per_approver * approvers} applications in {time.perf_counter() - started:.1f} s")
        db.session.remove()
        db.engine.dispose()


def login_sealflow(side: Side, usernames: list[str]) -> None:
    for username in usernames:
        browser = Browser(side.port)
        _, page = browser.request("GET", "/login")
        token = CSRF.search(page)
        assert token, "no CSRF token on the login page"
        status, _ = browser.request("POST", "/login", {"csrf_token": token.group(1), "username": username,
                                                       "password": PASSWORD})
        assert status == 302, f"login of {username}: {status}"
        side.approvers.append(browser)
        side.tokens.append(token.group(1))


def login_floor(side: Side, user_ids: list[int]) -> None:
    for user_id in user_ids:
        browser = Browser(side.port)
        _, page = browser.request("GET", "/login")
        token = CSRF.search(page)
        assert token
        status, _ = browser.request("POST", "/login", {"csrf_token": token.group(1), "user_id": str(user_id)})
        assert status == 302
        side.approvers.append(browser)
        side.tokens.append(token.group(1))


def run_round(side: Side, decisions: int) -> None:
    """Every approver: `decisions` times GET /inbox and POST a decision on its first task, all at once."""
    lock = threading.Lock()
    posts: list[float] = []
    inboxes: list[float] = []
    errors = 0
    start = threading.Barrier(len(side.approvers) + 1)

    def approver(browser: Browser, token: str) -> None:
        nonlocal errors
        start.wait()
        for _ in range(decisions):
            began = time.perf_counter()
            status, page = browser.request("GET", "/inbox")
            looked = time.perf_counter() - began
            task = TASK_LINK.search(page)
            if status != 200 or task is None:
                with lock:
                    errors += 1
                continue
            began = time.perf_counter()
            status, _ = browser.request("POST", f"/tasks/{task.group(1)}",
                                        {"csrf_token": token, "decision": "approve", "comment": ""})
            decided = time.perf_counter() - began
            with lock:
                inboxes.append(looked)
                if status == 302:
                    posts.append(decided)
                else:
                    errors += 1

    threads = [threading.Thread(target=approver, args=(b, t)) for b, t in zip(side.approvers, side.tokens, strict=True)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    side.throughput.append(len(posts) / elapsed)
    side.posts.extend(posts)
    side.inboxes.extend(inboxes)
    side.errors += errors


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def report(args: argparse.Namespace) -> None:
    import redis

    from bench.workflow import throwaway_database

    per_approver = args.decisions * args.rounds + args.warmup
    with tempfile.TemporaryDirectory() as tmp, throwaway_database(args.postgres) as uri:
        if uri is None:
            raise SystemExit("this bench needs PostgreSQL")
        redis.Redis.from_url(args.redis).flushdb()
        env = {**os.environ, "DATABASE_URL": uri.replace("postgresql+psycopg://", "postgresql://"),
               "REDIS_URL": args.redis, "SEALFLOW_INSTANCE_PATH": tmp, "SECRET_KEY": secrets.token_hex(16),
               "SEALFLOW_KEY_SECRET": secrets.token_hex(16)}
        # Filled by a child process that reads its settings from the environment, as the servers do.
        subprocess.run([sys.executable, __file__, "--fill", str(per_approver), "--approvers", str(args.approvers)],
                       env=env, check=True)
        usernames = [f"head{n}" for n in range(args.approvers)]

        from bench import http_floor
        floor_url = uri  # SQLAlchemy's psycopg 3 dialect, like SealFlow's
        floor_app = http_floor.create_floor_app(floor_url, env["SECRET_KEY"])
        http_floor.prepare(floor_app, list(range(1, args.approvers + 1)), per_approver)

        servers = []
        try:
            sealflow = Side("SealFlow", free_port())
            servers.append(gunicorn("wsgi:app", sealflow.port, args.workers, env))
            floor = Side("floor", free_port())
            servers.append(gunicorn("bench.http_floor:app", floor.port, args.workers,
                                    {**env, "FLOOR_DATABASE_URL": floor_url, "FLOOR_SECRET": env["SECRET_KEY"]}))
            login_sealflow(sealflow, usernames)
            login_floor(floor, list(range(1, args.approvers + 1)))
            for side in (sealflow, floor):  # untimed: every worker has served a few requests (both sides alike)
                run_round(side, args.warmup)
                side.throughput.clear()
                side.posts.clear()
                side.inboxes.clear()
            for n in range(args.rounds):
                for side in (sealflow, floor) if n % 2 == 0 else (floor, sealflow):
                    run_round(side, args.decisions)
                print(f"round {n + 1}: SealFlow {sealflow.throughput[-1]:.1f}/s, floor {floor.throughput[-1]:.1f}/s")
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            redis.Redis.from_url(args.redis).flushdb()

    print(f"\n{args.approvers} approvers, {args.workers} gunicorn workers each, {args.rounds} rounds of "
          f"{args.decisions} decisions per approver")
    print(f"{'':10} {'decisions/s':>12} {'POST p95 ms':>12} {'GET /inbox p95 ms':>18} {'errors':>7}")
    for side in (sealflow, floor):
        print(f"{side.name:10} {statistics.median(side.throughput):12.1f} {p95(side.posts) * 1000:12.0f} "
              f"{p95(side.inboxes) * 1000:18.0f} {side.errors:7d}")
    throughput = statistics.median(sealflow.throughput) / statistics.median(floor.throughput)
    print(f"approve_throughput_ratio={throughput:.2f}")
    print(f"approve_p95_ratio={p95(sealflow.posts) / p95(floor.posts):.2f}")
    print(f"inbox_p95_under_load_ratio={p95(sealflow.inboxes) / p95(floor.inboxes):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvers", type=int, default=16)
    parser.add_argument("--decisions", type=int, default=20, help="per approver and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="untimed decisions per approver on each side first")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of each server")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)  # the child that fills the database
    args = parser.parse_args()
    if args.fill:
        fill(args.approvers, args.fill)
    else:
        report(args)


if __name__ == "__main__":
    main()

"""The inbox at scale on PostgreSQL: 200k process instances and 1M task rows, most of them decided long ago, loaded in
bulk; then the inbox of a role-holder (a leader offered 600 open tasks through the role) and of a named assignee (600
open tasks assigned by name), against a floor: one indexed query that selects the same rows.

Run by hand: `.venv/bin/python bench/inbox.py [--instances 200000] [--tasks 1000000] [--open 600] [--repeat 30]
[--postgres URL]`.

Modes, interleaved run by run:
* SealFlow: `app.services.approvals.inbox(user)` (the query the inbox page runs, rows fetched as ORM objects);
* floor: one SELECT of the same ready tasks through a partial index on ready tasks and the candidates' task index,
  rows fetched as ORM objects too.
It also counts the SQL statements a GET /inbox issues (logged in through the real login form) at 10, 100 and the
full number of open tasks: a constant count is the goal.

It times the page too: `app.services.inbox.inbox_page(user)` (the substitutions, the count and the first page of rows
with the names shown) against one statement selecting the same page with the same names and the total.

The last lines are `inbox_query_role_ratio=…`, `inbox_query_assignee_ratio=…`, `inbox_page_role_ratio=…`,
`inbox_page_assignee_ratio=…` (SealFlow's median / the floor's) and
`inbox_statements_constant=<1 if the count does not grow with the tasks, else 0>`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from sqlalchemy import event, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import HumanTask, RoleName, TaskState, User  # noqa: E402
from app.services import accounts, approvals  # noqa: E402
from app.services.inbox import PER_PAGE, inbox_page  # noqa: E402
from bench.workflow import throwaway_database  # noqa: E402  (one throwaway database for every bench)
from config import TestConfig  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery"


def _copy(connection: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(instances: int, tasks: int, open_tasks: int) -> dict[str, int]:
    """The organisation and the bulk rows; the ids of the role-holder and the assignee."""
    leader = accounts.save_user("leo", "Leo", PASSWORD, {RoleName.LEADER}, None)
    assignee = accounts.save_user("ann", "Ann", PASSWORD, {RoleName.APPROVER}, None)
    requester = accounts.save_user("emma", "Emma", PASSWORD, {RoleName.EMPLOYEE}, None)
    others = [accounts.save_user(f"user{i}", f"User {i}", PASSWORD, {RoleName.APPROVER}, None) for i in range(50)]
    db.session.execute(text("INSERT INTO process_definitions (id, process_id, name, version, content_hash, "
                            "source_name, bpmn_xml, spec_json, created_at, comment) VALUES (1, 'seal_application', "
                            "'Seal application', 1, 'x', 'x.bpmn', '<x/>', '{}', now(), '')"))
    db.session.commit()
    # Plain ids now: an expired ORM attribute read during a COPY would query the connection the COPY holds.
    requester_id, assignee_id_, other_ids = requester.id, assignee.id, [o.id for o in others]
    people = {"leader": leader.id, "assignee": assignee_id_}
    raw = db.session.connection().connection.dbapi_connection
    now = time.time()
    _copy(raw, "process_instances", ("id", "definition_id", "requester_id", "status", "state", "revision",
                                     "created_at", "updated_at"),
          ((i, 1, requester_id, "COMPLETED", "{}", 1, _at(now - i * 60), _at(now - i * 60))
           for i in range(1, instances + 1)))
    # Most tasks decided long ago; `open_tasks` ready for the leader's role, as many ready for Ann by name, and a
    # few hundred ready for other people and roles.
    def task_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1, tasks + 1):
            instance = (i - 1) % instances + 1
            if i <= open_tasks:
                state, assignee_id = "READY", None  # offered to the leaders' role
            elif i <= 2 * open_tasks:
                state, assignee_id = "READY", assignee_id_
            elif i <= 2 * open_tasks + 300:
                state, assignee_id = "READY", other_ids[i % len(other_ids)]
            else:
                state, assignee_id = "COMPLETED", other_ids[i % len(other_ids)]
            yield (i, instance, str(uuid.uuid4()), "policy_approval", "Approval", assignee_id, state,
                   "approve,reject", _at(now - (tasks - i)))

    _copy(raw, "human_tasks", ("id", "instance_id", "task_guid", "element_id", "name", "assignee_id", "state",
                               "decisions", "created_at"), task_rows())
    # Candidates: every task had some (decided ones too, as history keeps them).
    def candidate_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1, tasks + 1):
            yield (i, None, "LEADER" if i <= open_tasks or i % 7 == 0 else "APPROVER")
            if i % 3 == 0:
                yield (i, other_ids[i % len(other_ids)], None)

    _copy(raw, "task_candidates", ("task_id", "user_id", "role"), candidate_rows())
    raw.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return people


def _at(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def floor_query(user_id: int, roles: list[str]) -> Any:
    """The same ready tasks in one query through indexes made for it (created by `prepare_floor`)."""
    return (select(HumanTask).where(HumanTask.state == TaskState.READY)
            .where((HumanTask.assignee_id == user_id)
                   | text("(human_tasks.assignee_id IS NULL AND EXISTS (SELECT 1 FROM task_candidates tc "
                          "WHERE tc.task_id = human_tasks.id AND (tc.user_id = :uid OR tc.role = ANY(:roles))))")
                   .bindparams(uid=user_id, roles=roles))
            .order_by(HumanTask.created_at, HumanTask.id))


def floor_page(user_id: int, roles: list[str], per_page: int) -> list[Any]:
    """The first page the inbox shows, with the names it shows and the total, in one statement."""
    return list(db.session.execute(text(
        "SELECT t.id, t.name, t.created_at, a.id, u.display_name, s.name, count(*) OVER () FROM human_tasks t "
        "JOIN process_instances i ON i.id = t.instance_id LEFT JOIN seal_applications a ON a.id = i.application_id "
        "LEFT JOIN users u ON u.id = a.requester_id LEFT JOIN seals s ON s.id = a.seal_id "
        "WHERE t.state = 'READY' AND (t.assignee_id = :uid OR (t.assignee_id IS NULL AND EXISTS (SELECT 1 FROM "
        "task_candidates tc WHERE tc.task_id = t.id AND (tc.user_id = :uid OR tc.role = ANY(:roles))))) "
        "ORDER BY t.created_at, t.id LIMIT :n"), {"uid": user_id, "roles": roles, "n": per_page}))


def prepare_floor() -> None:
    db.session.execute(text("CREATE INDEX IF NOT EXISTS bench_ready_tasks ON human_tasks (created_at, id) "
                            "WHERE state = 'READY'"))
    db.session.commit()


def timed(run: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    durations, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = run()
        durations.append(time.perf_counter() - start)
        db.session.expunge_all()
    durations.sort()
    return statistics.median(durations), durations[int(len(durations) * 0.95) - 1], rows


def statements_for_inbox(app: Any, username: str) -> int:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        response = client.get("/inbox")
        assert response.status_code == 200, response.status_code
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return count


def report(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, throwaway_database(args.postgres) as uri:
        if uri is None:
            raise SystemExit("this bench needs PostgreSQL")
        app = create_app(TestConfig(Path(tmp), SQLALCHEMY_DATABASE_URI=uri, WTF_CSRF_ENABLED=False))
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            ids = load(args.instances, args.tasks, args.open)
            print(f"loaded {args.instances} instances, {args.tasks} tasks in {time.perf_counter() - started:.1f} s")
            prepare_floor()
            people = {"role": db.session.get(User, ids["leader"]), "assignee": db.session.get(User, ids["assignee"])}
            ratios = {}
            for name, user in people.items():
                roles = [r.name for r in user.role_names]
                sealflow, floor = [], []
                for _ in range(args.rounds):  # interleaved
                    sealflow.append(timed(lambda u=user: len(approvals.inbox(u)), args.repeat))
                    floor.append(timed(lambda u=user, r=roles: len(db.session.execute(
                        floor_query(u.id, r)).scalars().all()), args.repeat))
                s_median = statistics.median(m for m, _, _ in sealflow)
                f_median = statistics.median(m for m, _, _ in floor)
                print(f"{name:<9} SealFlow {s_median * 1000:7.1f} ms ({sealflow[0][2]} rows)  "
                      f"floor {f_median * 1000:7.1f} ms ({floor[0][2]} rows)  ratio {s_median / f_median:.2f}")
                assert sealflow[0][2] == floor[0][2], "the floor must select the same tasks"
                ratios[name] = s_median / f_median
                sealflow, floor = [], []
                for _ in range(args.rounds):  # the page: one page of rows, with the names shown and the total
                    sealflow.append(timed(lambda u=user: len(inbox_page(u).rows), args.repeat))
                    floor.append(timed(lambda u=user, r=roles: len(floor_page(u.id, r, PER_PAGE)), args.repeat))
                s_median = statistics.median(m for m, _, _ in sealflow)
                f_median = statistics.median(m for m, _, _ in floor)
                print(f"{name:<9} page: SealFlow {s_median * 1000:7.1f} ms ({sealflow[0][2]} rows)  "
                      f"floor {f_median * 1000:7.1f} ms ({floor[0][2]} rows)  ratio {s_median / f_median:.2f}")
                assert sealflow[0][2] == floor[0][2], "the floor must select the same tasks"
                ratios[f"page_{name}"] = s_median / f_median
            counts = {}
            for limit in (10, 100, args.open):
                db.session.execute(text("UPDATE human_tasks SET state = CASE WHEN id <= :n THEN 'READY' ELSE "
                                        "'COMPLETED' END WHERE id <= :open"), {"n": limit, "open": args.open})
                db.session.commit()
                counts[limit] = statements_for_inbox(app, "leo")
                print(f"GET /inbox with {limit} open tasks: {counts[limit]} SQL statements")
            db.session.remove()
            db.engine.dispose()
    print(f"inbox_query_role_ratio={ratios['role']:.2f}")
    print(f"inbox_query_assignee_ratio={ratios['assignee']:.2f}")
    print(f"inbox_page_role_ratio={ratios['page_role']:.2f}")
    print(f"inbox_page_assignee_ratio={ratios['page_assignee']:.2f}")
    print(f"inbox_statements_constant={int(len(set(counts.values())) == 1)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    report(parser.parse_args())


if __name__ == "__main__":
    main()

"""The CSV import of people: a dry run line by line that changes nothing; a real run all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import AuditEvent, Department, RoleName, User
from app.models.audit import Actor
from app.services import accounts, audit, departments, people_import
from app.workflow.assignment import department_approver
from tests.conftest import Org

SYSTEM = Actor.system("test")
ROWS = 100

ROSTER = (
    "username,display_name,department,roles,active,parent_department,head\r\n"
    "zhang.wei,张伟,Finance,employee approver,yes,Office,yes\r\n"
    "li.na,李娜,Finance,employee,,,\r\n"
    "emma,Emma Stone,Sales,employee;approver,,,\r\n"  # changes name and roles
    "olga,Olga,Office,approver,,,\r\n"  # unchanged
    "alice,Alice,Office,auditor,no,,\r\n"  # deactivated
)


def _state() -> tuple[int, int, int]:
    """Users, departments and audit events: what a dry run must leave as it found."""
    count = db.session.execute
    return (count(select(func.count(User.id))).scalar(), count(select(func.count(Department.id))).scalar(),
            count(select(func.count(AuditEvent.id))).scalar())


def _run(text: str | bytes, actor: Actor = SYSTEM, dry_run: bool = False) -> people_import.ImportReport:
    data = text.encode() if isinstance(text, str) else text
    return people_import.import_people(data, actor, dry_run=dry_run, max_rows=ROWS)


def _outcomes(report: people_import.ImportReport) -> list[tuple[int, str, str]]:
    return [(line.line, line.username, line.outcome) for line in report.lines]


def test_a_dry_run_says_line_by_line_what_would_happen_and_changes_nothing(org: Org):
    before = _state()
    report = _run(ROSTER, dry_run=True)
    assert _state() == before and not report.applied and report.passwords == ()
    assert _outcomes(report) == [(2, "zhang.wei", "create"), (3, "li.na", "create"), (4, "emma", "change"),
                                 (5, "olga", "unchanged"), (6, "alice", "change")]
    emma = {c.field: (c.before, c.after) for c in report.lines[2].changes}
    assert emma == {"display_name": ("Emma", "Emma Stone"), "roles": ("employee", "approver, employee")}
    assert [(c.field, c.before, c.after) for c in report.lines[4].changes] == [("active", "yes", "no")]
    assert [(a.line, a.name, a.action, a.detail) for a in report.departments] == [
        (2, "Finance", "create", ""), (2, "Finance", "move", "Office"), (2, "Finance", "head", "zhang.wei")]


def test_the_real_run_applies_every_line_through_the_services(org: Org):
    report = _run(ROSTER)
    db.session.commit()
    assert report.applied and [u for u, _ in report.passwords] == ["zhang.wei", "li.na"]
    for username, password in report.passwords:
        assert accounts.authenticate(username, password, None) is not None
    finance = departments.department_named("Finance")
    assert finance is not None and finance.parent.name == "Office" and finance.head.username == "zhang.wei"
    li_na = accounts.find_user("li.na")
    assert li_na is not None and department_approver(li_na.id).assignee_id == finance.head_id
    emma = accounts.find_user("emma")
    assert emma is not None and emma.display_name == "Emma Stone" and emma.role_names == {RoleName.EMPLOYEE,
                                                                                         RoleName.APPROVER}
    alice = accounts.find_user("alice")
    assert alice is not None and not alice.active
    actions = [e.action for e in db.session.execute(select(AuditEvent).where(AuditEvent.action != "login.succeeded")
                                                    .order_by(AuditEvent.id)).scalars()]
    assert actions[-1] == "people.imported" and actions.count("user.created") == 2
    assert "user.deactivated" in actions and "department.created" in actions
    assert audit.extend_chain() > len(actions) - 1 and audit.verify_chain() == []
    again = _run(ROSTER, dry_run=True)  # the same file again changes nothing more
    assert {line.outcome for line in again.lines} == {"unchanged"} and again.departments == ()
    before = _state()
    assert _run(ROSTER).applied and _state() == before  # nor does applying it: not even an audit event


def test_the_importer_is_kept_as_who_set_the_created_peoples_passwords(org: Org):
    sam = org.seal_admin
    report = _run(ROSTER, Actor.of(sam))
    db.session.commit()
    created = [accounts.find_user(username) for username, _ in report.passwords]
    assert created and {u.password_set_by_id for u in created if u is not None} == {sam.id}
    emma = accounts.find_user("emma")
    assert emma is not None and emma.password_set_by_id is None  # changed, but her password was not touched


def test_one_refused_line_and_nothing_is_applied(org: Org):
    before = _state()
    report = _run(ROSTER + "bad name,X,Sales,employee,,,\r\nzhang.wei,Again,Sales,employee,,,\r\n"
                  "newbie,Newbie,Sales,employee wizard,maybe,,\r\n")
    assert _state() == before and not report.applied and report.passwords == ()
    refused = {line.line: line.reasons for line in report.lines if line.outcome == "refuse"}
    assert list(refused) == [7, 8, 9]
    assert "no spaces" in refused[7][0]
    assert refused[8] == ["zhang.wei is already on line 2"]
    assert any("unknown role 'wizard'" in r for r in refused[9]) and any("yes or no" in r for r in refused[9])
    assert report.count("create") == 2  # the good lines still say what they would do


@pytest.mark.parametrize(("rows", "line", "reason"), [
    ("sam,Sam,Office,employee,,,\r\n", 2, "you cannot remove your own seal administrator role"),
    ("sam,Sam,Office,seal_admin,no,,\r\n", 2, "you cannot deactivate yourself"),
    ("Emma,Emma,Sales,employee,,,\r\n", 2, "differs only in letter case from the existing 'emma'"),
    ("x1,X,Sales,employee,,,yes\r\nx2,Y,Sales,employee,,,yes\r\n", 3, "line 2 gives Sales another head"),
    ("x1,X,A,employee,,B,\r\nx2,Y,B,employee,,A,\r\n", 3, "B would end up below itself"),
    ("x1,X,,employee,,,yes\r\n", 2, "a head needs the line's department"),
    ("x1,X,Sales,auditor,,,yes\r\n", 2, "an auditor never decides, so cannot head a department"),
    ("harry,Harry,Office,employee approver,,,\r\n", 2, "harry heads Sales, and the head must belong"),
    ("x1,X,Sales,employee,,,,extra\r\n", 2, "more fields than the header names"),
])
def test_lines_that_would_break_the_organisation_are_refused(org: Org, rows: str, line: int, reason: str):
    header = "username,display_name,department,roles,active,parent_department,head\r\n"
    report = _run(header + rows, actor=Actor.of(org.seal_admin))
    refused = {r.line: " / ".join(r.reasons) for r in report.lines if r.outcome == "refuse"}
    assert line in refused and reason in refused[line], refused
    assert not report.applied


def test_the_last_seal_administrator_cannot_be_imported_away(org: Org):
    report = _run("username,display_name,department,roles\r\nsam,Sam,Office,employee\r\n")
    assert [r.reasons for r in report.lines] == [["this would leave no active seal administrator"]]
    fine = _run("username,display_name,department,roles\r\nsam,Sam,Office,employee\r\nnora,Nora,Office,seal_admin\r\n")
    db.session.commit()
    assert fine.applied and not accounts.find_user("sam").has_role(RoleName.SEAL_ADMIN)  # type: ignore[union-attr]


def test_a_new_head_replaces_one_who_moves_away_in_the_same_file(org: Org):
    """harry leaves Sales for Office; the file names emma head of Sales: applied in an order where each step holds."""
    report = _run("username,display_name,department,roles,head\r\n"
                  "harry,Harry,Office,employee approver,\r\n"
                  "emma,Emma,Sales,employee approver,yes\r\n")
    db.session.commit()
    assert report.applied, [r.reasons for r in report.lines]
    sales = departments.department_named("Sales")
    assert sales is not None and sales.head.username == "emma"
    assert accounts.find_user("harry").department.name == "Office"  # type: ignore[union-attr]


def test_excel_files_utf8_with_bom_are_read_and_other_encodings_refused_clearly(org: Org):
    text = "username,display_name,department,roles\r\nwang,王五,销售部,employee\r\n"
    report = _run(b"\xef\xbb\xbf" + text.encode(), dry_run=True)
    assert _outcomes(report) == [(2, "wang", "create")]
    assert [(a.name, a.action) for a in report.departments] == [("销售部", "create")]
    for data, message in ((text.encode("gb18030"), "not UTF-8 text at line 2 (it looks like GBK/GB18030"),
                          (text.encode("utf-16"), "NUL bytes"),
                          (b"PK\x03\x04rest-of-a-zip", "spreadsheet (.xlsx or .xls)"),
                          (b"username;display_name;department;roles\r\n", "separated by semicolons"),
                          (b"username,name,department\r\n", "missing column(s): display_name, roles; unknown "
                                                           "column(s): name"),
                          (b"", "the file is empty"),
                          (b"username,display_name,department,roles\r\n" + b"a,\"b\r\n" * 3, "not valid CSV"),
                          (("username,display_name,department,roles\r\n" + "u,n,d,employee\r\n" * (ROWS + 1)).encode(),
                           f"more than {ROWS} rows"),
                          (b"x" * 200_000, "larger than")):
        with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            _run(data, dry_run=True)


def test_line_numbers_count_quoted_line_breaks_and_skip_blank_lines(org: Org):
    report = _run('username,display_name,department,roles\r\n\r\nfirst,"Two\r\nLines",Sales,employee\r\n'
                  "second,Second,Sales,employee\r\n", dry_run=True)
    assert [(r.line, r.username) for r in report.lines] == [(3, "first"), (5, "second")]
    assert "control characters" in report.lines[0].reasons[0]

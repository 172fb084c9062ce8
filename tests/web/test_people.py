"""The people pages: /admin/users (list, search, create, edit, deactivate, reactivate, reset password),
/admin/departments and the CSV import; only seal administrators reach them."""

from __future__ import annotations

import base64
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Department, RoleName, User
from app.services import accounts, departments
from tests.conftest import PASSWORD, Org, login, logout

PAGES = ["/admin/users", "/admin/users/new", "/admin/users/1", "/admin/users/1/deactivate",
         "/admin/users/1/password", "/admin/users/import", "/admin/departments", "/admin/departments/1"]
POSTS = ["/admin/users/new", "/admin/users/1", "/admin/users/1/deactivate", "/admin/users/1/reactivate",
         "/admin/users/1/password", "/admin/users/import", "/admin/departments", "/admin/departments/1",
         "/admin/departments/1/delete"]


def _counts() -> tuple[int, int, int]:
    count = db.session.execute
    return (count(select(func.count(User.id))).scalar(), count(select(func.count(Department.id))).scalar(),
            count(select(func.count(AuditEvent.id)).where(~AuditEvent.action.startswith("login"))).scalar())


def _user(username: str) -> User:
    db.session.expire_all()
    user = accounts.find_user(username)
    assert user is not None
    return user


@pytest.mark.parametrize("username", ["emma", "alice", "harry"])
def test_only_seal_administrators_reach_the_people_pages(client: FlaskClient, org: Org, username: str):
    before = _counts()
    login(client, username)
    assert "nav-people" not in client.get("/", follow_redirects=True).text
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    for path in POSTS:
        assert client.post(path, data={"display_name": "Hacked", "name": "Hacked", "roles": "seal_admin"}
                           ).status_code == 403, path
    assert _counts() == before
    logout(client)
    assert client.get("/admin/users").status_code == 302  # to the login page


def test_every_form_needs_its_csrf_token(app: Flask, client: FlaskClient, org: Org):
    login(client, "sam")
    before = _counts()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for path in [p.replace("/1", f"/{org.employee.id}") for p in POSTS]:
            response = client.post(path, data={"display_name": "X", "username": "xx", "roles": "employee"})
            assert response.status_code == 400 and "CSRF" in response.text, path
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _counts() == before and _user("emma").active


def test_the_list_searches_filters_and_pages(client: FlaskClient, org: Org):
    login(client, "sam")
    assert 'id="nav-people"' in client.get("/", follow_redirects=True).text
    page = client.get("/admin/users")
    assert page.status_code == 200 and all(f'id="user-{u}"' in page.text
                                           for u in ("emma", "harry", "olga", "alice", "sam", "leo"))
    sales = client.get("/admin/users?q=SALES").text
    assert 'id="user-emma"' in sales and 'id="user-harry"' in sales and 'id="user-olga"' not in sales
    auditors = client.get("/admin/users?role=auditor").text
    assert 'id="user-alice"' in auditors and 'id="user-emma"' not in auditors
    for number in range(26):
        client.post("/admin/users/new", data={"username": f"clerk{number:02}", "display_name": f"Clerk {number:02}",
                                              "department_id": "", "roles": "employee"})
    first = client.get("/admin/users?q=clerk").text
    assert "26 people found" in first and "Page 1 of 2" in first
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_link and "q=clerk" in next_link.group(1)
    second = client.get(next_link.group(1).replace("&amp;", "&")).text
    assert 'id="user-clerk25"' in second and 'id="user-clerk00"' not in second
    assert client.get("/admin/users?page=-3&role=wizard").status_code == 200  # nonsense filters: the whole list


def test_creating_a_person_shows_the_password_once_and_they_log_in(client: FlaskClient, org: Org):
    login(client, "sam")
    form = client.get("/admin/users/new").text
    assert 'name="roles" type="checkbox" value="seal_admin"' in form
    created = client.post("/admin/users/new", data={"username": "wang.fang", "display_name": "王芳",
                                                    "department_id": str(org.department.id),
                                                    "roles": ["employee", "approver"], "password": ""})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="password" class="secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    assert "shown only now" in created.text
    user = _user("wang.fang")
    assert user.role_names == {RoleName.EMPLOYEE, RoleName.APPROVER} and user.department_id == org.department.id
    logout(client)
    assert client.post("/login", data={"username": "wang.fang", "password": password}).status_code == 302
    # A password someone else chose: every page leads to choosing one's own first.
    for path in ("/", "/inbox", "/seals", f"/applications/{1}"):
        assert client.get(path).location == "/account/password", path
    page = client.get("/account/password")
    assert page.status_code == 200 and 'id="password-required"' in page.text
    differ = client.post("/account/password", data={"current": password, "new": "my own phrase here",
                                                    "repeat": "my own phrase there"})
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    wrong = client.post("/account/password", data={"current": "nope", "new": "my own phrase here",
                                                   "repeat": "my own phrase here"})
    assert wrong.status_code == 422 and "the current password is wrong" in wrong.text
    done = client.post("/account/password", data={"current": password, "new": "my own phrase here",
                                                  "repeat": "my own phrase here"}, follow_redirects=True)
    assert done.status_code == 200 and "Your new password is set." in done.text  # still logged in
    assert client.get("/inbox").status_code == 200 and not _user("wang.fang").password_change_required


def test_everyone_changes_their_own_password_from_their_name_in_the_bar(app: Flask, client: FlaskClient, org: Org):
    other = app.test_client()
    login(other, "emma")
    login(client, "emma")
    assert 'id="nav-account"' in client.get("/").text and client.get("/").status_code == 200  # nothing required
    changed = client.post("/account/password", data={"current": PASSWORD, "new": "emma's new phrase",
                                                     "repeat": "emma's new phrase"})
    assert changed.status_code == 302 and client.get("/inbox").status_code == 200
    assert other.get("/inbox").status_code == 302  # the other session has ended
    logout(client)
    assert client.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize(("data", "message"), [
    ({"username": "emma", "display_name": "Emma 2", "roles": "employee"}, "there is already a user"),
    ({"username": "new one", "display_name": "N", "roles": "employee"}, "no spaces"),
    ({"username": "newone", "display_name": "N", "roles": "employee", "password": "short"}, "at least 12"),
    ({"username": "newone", "display_name": "N"}, "give at least one role"),
    ({"username": "newone", "display_name": "N", "roles": ["auditor", "leader"]}, "auditor never decides"),
    ({"username": "newone", "display_name": "N", "roles": "wizard"}, "&#39;wizard&#39; is not a valid choice"),
    ({"username": "newone", "display_name": "N", "roles": "employee", "department_id": "999"}, "Not a valid choice"),
    ({"username": "", "display_name": "N", "roles": "employee"}, "This field is required"),
])
def test_wrong_values_give_clear_errors_and_create_nobody(client: FlaskClient, org: Org, data: dict, message: str):
    login(client, "sam")
    before = _counts()
    response = client.post("/admin/users/new", data={"department_id": "", **data})
    assert response.status_code == 422 and message in response.text, response.text
    assert _counts() == before


def test_editing_a_person_is_audited_and_the_administrator_cannot_demote_themselves(client: FlaskClient, org: Org):
    login(client, "sam")
    saved = client.post(f"/admin/users/{org.employee.id}", data={
        "display_name": "Emma Li", "department_id": str(org.department.id), "roles": ["employee", "leader"]},
        follow_redirects=True)
    assert saved.status_code == 200 and "Emma Li is saved" in saved.text
    assert _user("emma").role_names == {RoleName.EMPLOYEE, RoleName.LEADER}
    assert "Emma → Emma Li" in client.get(f"/admin/users/{org.employee.id}").text  # the history shows it
    own = client.post(f"/admin/users/{org.seal_admin.id}", data={"display_name": "Sam", "department_id": "",
                                                                  "roles": "employee"})
    assert own.status_code == 422 and "cannot remove your own seal administrator role" in own.text
    assert _user("sam").has_role(RoleName.SEAL_ADMIN)
    head = client.post(f"/admin/users/{org.head.id}", data={"display_name": "Harry", "department_id": "",
                                                            "roles": ["employee", "approver"]})
    assert head.status_code == 422 and "harry heads Sales" in head.text
    assert client.get("/admin/users/99999").status_code == 404


def test_deactivating_warns_ends_sessions_and_reactivating_restores(app: Flask, client: FlaskClient, org: Org):
    harry = app.test_client()
    login(harry, "harry")
    assert harry.get("/inbox").status_code == 200
    login(client, "sam")
    confirm = client.get(f"/admin/users/{org.head.id}/deactivate").text
    assert "They head Sales" in confirm and 'id="confirm-deactivate"' in confirm
    done = client.post(f"/admin/users/{org.head.id}/deactivate", follow_redirects=True)
    assert done.status_code == 200 and "Sales has no head now" in done.text and 'id="reactivate"' in done.text
    assert harry.get("/inbox").status_code == 302  # his session has ended
    assert harry.post("/login", data={"username": "harry", "password": PASSWORD}).status_code == 401
    assert not _user("harry").active and departments.department_named("Sales").head_id is None  # type: ignore
    client.post(f"/admin/users/{org.head.id}/reactivate")
    assert _user("harry").active
    assert harry.post("/login", data={"username": "harry", "password": PASSWORD}).status_code == 302
    mine = client.get(f"/admin/users/{org.seal_admin.id}/deactivate").text
    assert "you cannot deactivate yourself" in mine and "confirm-deactivate" not in mine
    refused = client.post(f"/admin/users/{org.seal_admin.id}/deactivate")
    assert refused.status_code == 422 and "you cannot deactivate yourself" in refused.text
    assert _user("sam").active


def test_resetting_a_password_ends_the_sessions_and_shows_a_generated_one_once(app: Flask, client: FlaskClient,
                                                                              org: Org):
    emma = app.test_client()
    login(emma, "emma")
    login(client, "sam")
    short = client.post(f"/admin/users/{org.employee.id}/password", data={"password": "tiny"})
    assert short.status_code == 422 and "at least 12" in short.text
    assert emma.get("/").status_code == 200
    reset = client.post(f"/admin/users/{org.employee.id}/password", data={"password": ""})
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="password" class="secret">([^<]+)<', reset.text).group(1)  # type: ignore[union-attr]
    assert emma.get("/").status_code == 302
    assert emma.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 401
    assert emma.post("/login", data={"username": "emma", "password": password}).status_code == 302
    assert emma.get("/").location == "/account/password"  # a reset password is temporary
    chosen = client.post(f"/admin/users/{org.employee.id}/password", data={"password": "my own choice here"})
    assert chosen.status_code == 200 and "my own choice here" not in chosen.text


def test_departments_are_added_moved_headed_and_deleted_only_when_empty(client: FlaskClient, org: Org):
    login(client, "sam")
    added = client.post("/admin/departments", data={"name": "Group", "parent_id": ""}, follow_redirects=True)
    assert added.status_code == 200 and "Department “Group” added" in added.text
    group = departments.department_named("Group")
    office = departments.department_named("Office")
    assert group is not None and office is not None
    duplicate = client.post("/admin/departments", data={"name": "group", "parent_id": ""})
    assert duplicate.status_code == 422 and "already a department named “Group”" in duplicate.text
    moved = client.post(f"/admin/departments/{office.id}", data={"name": "Office", "parent_id": str(group.id),
                                                                  "head_id": str(org.leader.id)})
    assert moved.status_code == 302
    tree = client.get("/admin/departments").text
    assert tree.index(">Group<") < tree.index(">Office<") and '"depth-1"><a href="/admin/departments/' in tree
    loop = client.post(f"/admin/departments/{group.id}", data={"name": "Group", "parent_id": str(office.id),
                                                                "head_id": ""})
    assert loop.status_code == 422 and "cannot be put under Office, which is below it" in loop.text
    stranger = client.post(f"/admin/departments/{group.id}", data={"name": "Group", "parent_id": "",
                                                                    "head_id": str(org.employee.id)})
    assert stranger.status_code == 422 and "Not a valid choice" in stranger.text  # emma is in Sales, not Group
    page = client.get(f"/admin/departments/{office.id}").text
    assert "It cannot be deleted" in page and 'id="delete"' not in page
    refused = client.post(f"/admin/departments/{office.id}/delete", follow_redirects=True)
    assert "Office has 4 member(s)" in refused.text and departments.department_named("Office") is not None
    empty = client.post("/admin/departments", data={"name": "Empty", "parent_id": str(group.id)})
    assert empty.status_code == 302
    empty_id = departments.department_named("Empty").id  # type: ignore[union-attr]
    gone = client.post(f"/admin/departments/{empty_id}/delete", follow_redirects=True)
    assert "Department “Empty” deleted" in gone.text and departments.department_named("Empty") is None


def _upload(client: FlaskClient, text: bytes, button: str = "check"):
    return client.post("/admin/users/import", data={"file": (io.BytesIO(text), "people.csv"), button: "1"},
                       content_type="multipart/form-data")


ROSTER = ("username,display_name,department,roles,parent_department,head\r\n"
          "zhang.wei,张伟,财务部,employee approver,Office,yes\r\n"
          "emma,Emma,Sales,employee approver,,\r\n").encode()


def test_the_import_checks_first_then_applies_the_checked_file(client: FlaskClient, org: Org):
    login(client, "sam")
    before = _counts()
    dry = _upload(client, b"\xef\xbb\xbf" + ROSTER)
    assert dry.status_code == 200 and _counts() == before
    assert "1 to create, 1 to change, 0 unchanged, 0 refused" in dry.text
    assert 'id="line-2" class="outcome-create"' in dry.text and 'id="line-3" class="outcome-change"' in dry.text
    carried = re.search(r'name="content" type="hidden" value="([^"]+)"', dry.text).group(1)  # type: ignore[union-attr]
    assert base64.b64decode(carried) == b"\xef\xbb\xbf" + ROSTER
    applied = client.post("/admin/users/import", data={"content": carried, "apply": "1"})
    assert applied.status_code == 200 and 'id="import-passwords"' in applied.text
    assert _user("zhang.wei").department.name == "财务部"  # type: ignore[union-attr]
    assert departments.department_named("财务部").head.username == "zhang.wei"  # type: ignore[union-attr]
    assert _user("emma").has_role(RoleName.APPROVER)


def test_a_refused_line_or_a_bad_file_imports_nothing(client: FlaskClient, org: Org):
    login(client, "sam")
    before = _counts()
    refused = _upload(client, ROSTER + b"bad name,X,Sales,employee,,\r\n", button="apply")
    assert refused.status_code == 422 and "Nothing was imported" in refused.text
    assert 'id="line-4" class="outcome-refuse"' in refused.text and "no spaces" in refused.text
    assert 'id="apply"' not in refused.text
    gbk = _upload(client, "username,display_name,department,roles\r\nwang,王五,销售部,employee\r\n".encode("gbk"))
    assert gbk.status_code == 422 and "GBK" in gbk.text
    nothing = client.post("/admin/users/import", data={"check": "1"})
    assert nothing.status_code == 422 and "Choose a CSV file." in nothing.text
    assert _counts() == before

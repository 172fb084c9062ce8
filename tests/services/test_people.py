"""Administering people and departments: the services behind /admin/users, /admin/departments and `flask users`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import AuditEvent, Department, RoleName, User
from app.models.audit import Actor, events_for
from app.models.timestamps import utcnow
from app.services import accounts, applications, audit, departments, people, substitutes
from app.services.applications import ApplicationSpec
from app.services.departments import DepartmentSpec
from app.services.people import UserSearch, UserSpec
from app.workflow.assignment import department_approver
from tests.conftest import PASSWORD, Org, corpus_pdf

SYSTEM = Actor.system("test")


def _as(user: User) -> Actor:
    return Actor.of(user)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)).scalars())


def test_a_created_person_logs_in_with_the_generated_password_and_the_creation_is_audited(org: Org):
    spec = UserSpec("wang.fang", "王芳", org.department.id, frozenset({RoleName.EMPLOYEE}))
    user, password = people.create_user(spec, None, _as(org.seal_admin))
    db.session.commit()
    assert len(password) == 19 and user.password_hash.startswith("$argon2id$")
    assert accounts.authenticate("wang.fang", password, None) is not None
    [event] = _events("user.created")
    assert event.actor_name == "sam" and event.details["after"] == {
        "username": "wang.fang", "display_name": "王芳", "department": "Sales", "roles": ["employee"], "active": True}
    assert password not in str(event.details)
    assert audit.extend_chain() > 0 and audit.verify_chain() == []


@pytest.mark.parametrize(("spec", "password", "message"), [
    (UserSpec("a b", "X", None, frozenset({RoleName.EMPLOYEE})), None, "no spaces"),
    (UserSpec("x", "X", None, frozenset({RoleName.EMPLOYEE})), None, "2 to 80"),
    (UserSpec("Emma", "Emma Two", None, frozenset({RoleName.EMPLOYEE})), None, "already a user 'emma'"),
    (UserSpec("newbie", "  ", None, frozenset({RoleName.EMPLOYEE})), None, "give the person's name"),
    (UserSpec("newbie", "Newbie", None, frozenset()), None, "at least one role"),
    (UserSpec("newbie", "Newbie", None, frozenset({RoleName.AUDITOR, RoleName.APPROVER})), None, "auditor never"),
    (UserSpec("newbie", "Newbie", None, frozenset({RoleName.EMPLOYEE})), "short", "at least 12 characters"),
    (UserSpec("newbie.long.name", "N", None, frozenset({RoleName.EMPLOYEE})), "Newbie.Long.Name", "not be the user"),
    (UserSpec("newbie", "Newbie", 9999, frozenset({RoleName.EMPLOYEE})), None, "department 9999 does not exist"),
])
def test_wrong_values_are_refused_and_nothing_is_created(org: Org, spec: UserSpec, password: str | None,
                                                         message: str):
    users = db.session.execute(select(func.count(User.id))).scalar()
    with pytest.raises(InvalidInput, match=message):
        people.create_user(spec, password, _as(org.seal_admin))
    db.session.rollback()
    assert db.session.execute(select(func.count(User.id))).scalar() == users
    assert _events("user.created") == []


def test_an_edit_records_only_what_changed_before_and_after(org: Org):
    people.update_user(org.employee.id, "Emma Li", org.department.id, {RoleName.EMPLOYEE, RoleName.APPROVER},
                       _as(org.seal_admin))
    db.session.commit()
    [event] = _events("user.updated")
    assert event.details["before"] == {"display_name": "Emma", "roles": ["employee"]}
    assert event.details["after"] == {"display_name": "Emma Li", "roles": ["approver", "employee"]}
    people.set_roles(org.employee.id, {RoleName.EMPLOYEE, RoleName.APPROVER}, _as(org.seal_admin))  # no change
    assert len(_events("user.updated")) == 1


def test_administrators_cannot_lock_themselves_or_everyone_out(org: Org):
    sam = org.seal_admin
    with pytest.raises(InvalidInput, match="your own seal administrator role"):
        people.set_roles(sam.id, {RoleName.EMPLOYEE}, _as(sam))
    with pytest.raises(InvalidInput, match="cannot deactivate yourself"):
        people.deactivate(sam.id, _as(sam))
    # The CLI (no user) may, but not remove the last seal administrator.
    with pytest.raises(InvalidInput, match="last active seal administrator"):
        people.set_roles(sam.id, {RoleName.EMPLOYEE}, SYSTEM)
    with pytest.raises(InvalidInput, match="last active seal administrator"):
        people.deactivate(sam.id, SYSTEM)
    nora, _ = people.create_user(UserSpec("nora", "Nora", None, frozenset({RoleName.SEAL_ADMIN})), None, _as(sam))
    people.set_roles(sam.id, {RoleName.EMPLOYEE}, _as(nora))
    db.session.commit()
    assert not db.session.get(User, sam.id).has_role(RoleName.SEAL_ADMIN)


def test_deactivating_ends_sessions_and_logins_and_says_what_depended_on_them(org: Org):
    harry = org.head  # heads Sales, so the department-head step of emma's application waits for him by name
    application = applications.submit(ApplicationSpec(
        seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
        content=corpus_pdf("minimal-document.pdf"), reason="Supply contract"), org.employee, SYSTEM).application
    now = utcnow()
    substitutes.name_substitute(org.other_approver, harry.id, now, now + timedelta(days=3), "trip", SYSTEM)
    db.session.commit()
    epoch = harry.session_epoch

    work = people.deactivate(harry.id, _as(org.seal_admin))
    db.session.commit()

    assert (work.task_count, work.task_applications, work.headed_departments, work.standing_in_for) == (
        1, (application.id,), ("Sales",), ("Olga",))
    harry = db.session.get(User, harry.id)
    assert not harry.active and harry.session_epoch == epoch + 1
    assert accounts.user_for_session(f"{harry.id}:{epoch}") is None
    assert accounts.authenticate("harry", PASSWORD, None) is None
    assert db.session.get(Department, org.department.id).head_id is None
    assert substitutes.substitutions_of(org.other_approver) == []
    [event] = _events("user.deactivated")
    assert event.details["open_tasks"] == 1 and event.details["headed_departments"] == ["Sales"]
    # Sales has no head now: emma's next application goes to the leaders (no department above Sales).
    assert department_approver(org.employee.id).candidate_roles == (RoleName.LEADER,)
    with pytest.raises(InvalidInput, match="already deactivated"):
        people.deactivate(harry.id, _as(org.seal_admin))
    people.reactivate(harry.id, _as(org.seal_admin))
    db.session.commit()
    assert accounts.authenticate("harry", PASSWORD, None) is not None
    assert [e.action for e in events_for("user", harry.id) if e.action.startswith("user.")] == [
        "user.deactivated", "user.activated"]


def test_a_reset_password_replaces_the_old_one_and_ends_sessions(org: Org):
    emma = org.employee
    epoch = emma.session_epoch
    with pytest.raises(InvalidInput, match="at least 12"):
        people.reset_password(emma.id, "tiny", _as(org.seal_admin))
    chosen = people.reset_password(emma.id, "a temporary passphrase", _as(org.seal_admin))
    db.session.commit()
    assert chosen == "a temporary passphrase" and emma.session_epoch == epoch + 1
    assert accounts.authenticate("emma", PASSWORD, None) is None
    assert accounts.authenticate("emma", chosen, None) is not None
    generated = people.reset_password(emma.id, None, _as(org.seal_admin))
    db.session.commit()
    assert generated != chosen and accounts.authenticate("emma", generated, None) is not None
    events = _events("user.password_reset")
    assert [e.details["generated"] for e in events] == [False, True]
    assert all(chosen not in str(e.details) and generated not in str(e.details) for e in events)


def test_search_finds_by_name_username_department_and_role_and_pages(org: Org):
    for number in range(30):
        people.create_user(UserSpec(f"clerk{number:02}", f"Clerk {number:02}", None,
                                    frozenset({RoleName.EMPLOYEE})), None, SYSTEM)
    people.create_user(UserSpec("pct", "100% Sure", None, frozenset({RoleName.EMPLOYEE})), None, SYSTEM)
    db.session.commit()
    first = people.search_users(UserSearch(text="clerk"))
    assert (first.total, first.pages, len(first.users)) == (30, 2, 25)
    second = people.search_users(UserSearch(text="clerk", page=2))
    assert [u.username for u in second.users] == [f"clerk{n}" for n in range(25, 30)]
    assert people.search_users(UserSearch(text="clerk", page=99)).page == 2
    assert {u.username for u in people.search_users(UserSearch(text="sales")).users} == {"emma", "harry"}
    assert [u.username for u in people.search_users(UserSearch(text="%")).users] == ["pct"]
    assert [u.username for u in people.search_users(UserSearch(role=RoleName.AUDITOR)).users] == ["alice"]
    people.deactivate(org.employee.id, SYSTEM)
    assert "emma" not in {u.username for u in people.search_users(UserSearch(text="sales")).users}
    assert [u.username for u in people.search_users(UserSearch(state="inactive")).users] == ["emma"]


def test_departments_form_a_tree_whose_heads_approve(org: Org):
    office = departments.department_named("office")
    assert office is not None
    group = departments.create_department(DepartmentSpec("Group"), SYSTEM)
    departments.update_department(office.id, DepartmentSpec("Office", group.id, org.leader.id), SYSTEM)
    departments.update_department(org.department.id, DepartmentSpec("Sales", office.id, org.head.id), SYSTEM)
    db.session.commit()
    rows = [(r.department.name, r.depth, r.members) for r in departments.department_tree()]
    assert rows == [("Group", 0, 0), ("Office", 1, 4), ("Sales", 2, 2)]
    # harry heads Sales: emma's head is harry; harry's own application goes to the head above (leo, Office).
    assert department_approver(org.employee.id).assignee_id == org.head.id
    assert department_approver(org.head.id).assignee_id == org.leader.id
    with pytest.raises(InvalidInput, match="cannot be put under Sales, which is below it"):
        departments.update_department(group.id, DepartmentSpec("Group", org.department.id), SYSTEM)
    with pytest.raises(InvalidInput, match="cannot be put under itself"):
        departments.update_department(group.id, DepartmentSpec("Group", group.id), SYSTEM)
    with pytest.raises(InvalidInput, match="already a department named “Office”"):
        departments.update_department(group.id, DepartmentSpec("OFFICE"), SYSTEM)
    [created, *updates] = [e for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.object_type == "department").order_by(AuditEvent.id)).scalars()]
    assert created.details["after"] == {"name": "Group", "parent": None, "head": None}
    assert updates[0].details["before"] == {"parent": None, "head": None}
    assert updates[0].details["after"] == {"parent": "Group", "head": "leo"}


def test_a_head_belongs_to_the_department_or_one_above_decides_and_stays_there(org: Org):
    office = departments.department_named("Office")
    assert office is not None
    with pytest.raises(InvalidInput, match="must belong to the department or to one above it"):
        departments.update_department(office.id, DepartmentSpec("Office", None, org.head.id), SYSTEM)  # harry: Sales
    with pytest.raises(InvalidInput, match="auditor never decides"):
        departments.update_department(office.id, DepartmentSpec("Office", None, org.auditor.id), SYSTEM)
    departments.update_department(org.department.id, DepartmentSpec("Sales", office.id, org.leader.id), SYSTEM)
    assert db.session.get(Department, org.department.id).head_id == org.leader.id  # leo, of Office, above Sales
    with pytest.raises(InvalidInput, match="leo heads Sales"):
        people.update_user(org.leader.id, "Leo", None, {RoleName.LEADER}, SYSTEM)
    with pytest.raises(InvalidInput, match="leo heads Sales, and an auditor never decides"):
        people.set_roles(org.leader.id, {RoleName.AUDITOR}, SYSTEM)
    assert [u.username for u in departments.head_candidates(office)] == ["leo", "olga", "sam"]


def test_a_department_is_deleted_only_when_nothing_refers_to_it(org: Org):
    office = departments.department_named("Office")
    assert office is not None
    with pytest.raises(InvalidInput, match="Sales has 2 member"):
        departments.delete_department(org.department.id, SYSTEM)
    empty = departments.create_department(DepartmentSpec("Empty", office.id), SYSTEM)
    departments.create_department(DepartmentSpec("Below", empty.id), SYSTEM)
    with pytest.raises(InvalidInput, match=r"departments below it \(Below\)"):
        departments.delete_department(empty.id, SYSTEM)
    departments.update_department(org.department.id, DepartmentSpec("Sales"), SYSTEM)  # no head
    for user in (org.employee, org.head):  # Sales empty of people, but the Contract Seal belongs to it
        people.update_user(user.id, user.display_name, office.id, user.role_names, SYSTEM)
    with pytest.raises(InvalidInput, match=r"seals name Sales .*Contract Seal"):
        departments.delete_department(org.department.id, SYSTEM)
    below = departments.department_named("Below")
    assert below is not None
    assert departments.delete_department(below.id, SYSTEM) == "Below"
    db.session.commit()
    assert departments.department_named("Below") is None
    assert _events("department.deleted")[0].details["before"]["parent"] == "Empty"


def test_a_password_someone_else_set_must_be_replaced_by_the_person(app, org: Org):
    user, temporary = people.create_user(UserSpec("wang.fang", "王芳", None, frozenset({RoleName.EMPLOYEE})), None,
                                         _as(org.seal_admin))
    assert user.password_change_required
    epoch = user.session_epoch
    with pytest.raises(InvalidInput, match="current password is wrong"):
        accounts.change_password(user, "not it at all", "my very own phrase", Actor.of(user, "10.0.0.9"))
    with pytest.raises(InvalidInput, match="at least 12"):
        accounts.change_password(user, temporary, "short", Actor.of(user))
    with pytest.raises(InvalidInput, match="must differ"):
        accounts.change_password(user, temporary, temporary, Actor.of(user))
    accounts.change_password(user, temporary, "my very own phrase", Actor.of(user))
    db.session.commit()
    assert not user.password_change_required and user.session_epoch == epoch + 1
    assert accounts.authenticate("wang.fang", "my very own phrase", None) is not None
    assert [e.actor_name for e in _events("user.password_changed")] == ["wang.fang"]
    people.reset_password(user.id, None, _as(org.seal_admin))
    assert user.password_change_required  # a reset is temporary again
    # Guessing the current password through this form is throttled like logging in.
    app.config["LOGIN_MAX_FAILURES"] = 2
    for _ in range(2):
        with pytest.raises(InvalidInput):
            accounts.change_password(user, "guess", "my very own phrase 2", Actor.of(user, "10.0.0.9"))
    with pytest.raises(accounts.LoginThrottled):
        accounts.change_password(user, "guess", "my very own phrase 2", Actor.of(user, "10.0.0.9"))


def test_who_set_a_password_is_kept_until_another_administrator_resets_it(app, org: Org):
    """The administrator who created the account or last reset its password could have logged in as the person, and
    chosen the password they have now: approvals.decision_refusal reads this."""
    sam = org.seal_admin
    nora, _ = people.create_user(UserSpec("nora", "Nora", None, frozenset({RoleName.SEAL_ADMIN})), None, _as(sam))
    scripted, _ = people.create_user(UserSpec("li.na", "Li Na", None, frozenset({RoleName.EMPLOYEE})), None, SYSTEM)
    user, temporary = people.create_user(UserSpec("wang.fang", "王芳", None, frozenset({RoleName.EMPLOYEE})),
                                         "a chosen passphrase", _as(sam))
    assert (nora.password_set_by_id, scripted.password_set_by_id, user.password_set_by_id) == (sam.id, None, sam.id)
    accounts.change_password(user, temporary, "my very own phrase", Actor.of(user))
    assert user.password_set_by_id == sam.id  # changed in a session sam could have opened
    people.reset_password(user.id, None, _as(user))
    assert user.password_set_by_id == sam.id  # nor does resetting one's own
    people.reset_password(user.id, None, _as(nora))
    assert user.password_set_by_id == nora.id
    people.reset_password(user.id, None, SYSTEM)  # a script: nobody in SealFlow knows it
    assert user.password_set_by_id is None
    assert org.employee.password_set_by_id is None  # set up by a script too


def test_a_directory_accounts_password_is_the_directorys_and_sealflow_never_sets_it(app, org):
    org.employee.directory_dn = "uid=emma,ou=Sales,ou=people,dc=example,dc=org"
    db.session.flush()
    before = org.employee.password_hash
    with pytest.raises(InvalidInput, match="kept by the directory"):
        people.reset_password(org.employee.id, None, Actor.of(org.seal_admin))
    with pytest.raises(InvalidInput, match="kept by the directory"):
        accounts.change_password(org.employee, PASSWORD, "a much longer new passphrase", Actor.of(org.employee))
    assert org.employee.password_hash == before

"""People from a directory, against a real slapd (tests/directory_server.py): login by binding as the person, and
the sync of people, departments and roles."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import func, select

from app.directory import check_password
from app.errors import DirectoryRefused, DirectoryUnavailable, InvalidInput
from app.extensions import db
from app.models import AuditEvent, Department, RoleName, User
from app.models.audit import Actor
from app.services import accounts, directory, throttle
from tests.conftest import PASSWORD
from tests.directory_server import GROUPS, PASSWORDS, PEOPLE, PEOPLE_ENTRIES, free_port, use_directory

CLI = Actor.system("test")


def log_in(username: str, password: str) -> User | None:
    user = accounts.authenticate(username, password, "10.0.0.7")
    db.session.commit()
    return user


def actions() -> list[str]:
    return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_directory_person_logs_in_with_their_directory_password(ldap):
    user = log_in("hugo", PASSWORDS["hugo"])
    assert user is not None and user.username == "hugo" and user.display_name == "Hugo Head"
    assert user.directory_dn == PEOPLE_ENTRIES["hugo"][0] and user.from_directory
    assert user.password_hash == ""  # the directory's password is never stored
    assert user.department.name == "Head Office"
    # sealflow-approvers (by name, groupOfNames) and cn=Leaders (by DN, groupOfUniqueNames), and everyone's role
    assert user.role_names == {RoleName.EMPLOYEE, RoleName.APPROVER, RoleName.LEADER}
    assert actions()[-2:] == ["user.created", "login.succeeded"]
    # Logging in again finds the same account and changes nothing.
    assert log_in("hugo", PASSWORDS["hugo"]).id == user.id
    assert actions()[-1] == "login.succeeded" and actions().count("user.created") == 1


def test_a_posix_group_and_a_non_ascii_password_and_department(ldap):
    user = log_in("lina", PASSWORDS["lina"])
    assert user is not None and user.display_name == "李娜" and user.department.name == "法务部"
    assert user.role_names == {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}  # memberUid=lina in seal-admins


def test_wrong_password_is_refused_and_counted_by_the_throttle(app, ldap):
    app.config["LOGIN_MAX_FAILURES"] = 2
    assert log_in("ann", "ann-pw-2") is None and log_in("ann", PASSWORDS["hugo"]) is None
    assert db.session.execute(select(User).where(User.username == "ann")).scalar_one_or_none() is None
    assert actions()[-2:] == ["login.failed", "login.failed"]
    with pytest.raises(accounts.LoginThrottled):  # the same throttle as for accounts created in SealFlow
        log_in("ann", PASSWORDS["ann"])
    throttle.forget_failures("ann")
    assert log_in("ann", PASSWORDS["ann"]) is not None


@pytest.mark.parametrize("username", ["*", "a*", "*nn", "admin)(|(uid=*", "ann)(uid=*", "*)(objectClass=*",
                                      "ann)(|(objectClass=*", "\\2a", "ann\x00"])
def test_filter_injection_finds_nobody(ldap, username):
    """Each is looked for literally: no wildcard, no extra filter term, whatever password comes with it."""
    for password in PASSWORDS.values():
        assert log_in(username, password) is None
    assert count(User) == 0


def test_special_characters_are_matched_literally(ldap):
    """The escaping is not a refusal of odd names: a person whose uid really holds `*` logs in with it."""
    user = log_in("o*brien", PASSWORDS["o*brien"])
    assert user is not None and user.display_name == "Pat O'Brien" and user.department.name == "Sales"
    assert log_in("o*brien", PASSWORDS["ann"]) is None


def test_empty_passwords_and_anonymous_binds_never_count(ldap):
    for username, password in [("ann", ""), ("", ""), ("", PASSWORDS["ann"]), ("", "x")]:
        assert log_in(username, password) is None
    assert count(User) == 0
    # Below the service too: an empty password is never sent (LDAP would take it as an anonymous bind).
    spec = directory.settings()
    assert check_password(spec, PEOPLE_ENTRIES["ann"][0], "") is False
    assert check_password(spec, "", "") is False
    assert check_password(spec, PEOPLE_ENTRIES["ann"][0], PASSWORDS["ann"]) is True


def test_a_directory_that_is_down_gives_a_clear_error_and_local_accounts_still_log_in(app, org, ldap, caplog):
    use_directory(app, f"ldap://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(DirectoryUnavailable, match="the directory cannot be reached"):
        log_in("ann", PASSWORDS["ann"])
    db.session.commit()  # the view commits the audit event, as here
    assert actions()[-1] == "login.directory_error"
    assert "the directory is unavailable" in caplog.text
    assert log_in("emma", PASSWORD).username == "emma"  # created in SealFlow: SealFlow checks her password
    assert log_in("harry", PASSWORD) is not None
    assert throttle.blocked_for("ann", "10.0.0.7") is None


def test_a_directory_that_does_not_answer_times_out(app, ldap):
    """A server that accepts the connection and never answers: the login waits SEALFLOW_LDAP_TIMEOUT, not forever."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        use_directory(app, f"ldap://127.0.0.1:{silent.getsockname()[1]}", timeout=1)
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            log_in("ann", PASSWORDS["ann"])
        assert time.monotonic() - started < 4
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        silent.close()


def test_a_refused_service_bind_is_reported_not_taken_for_a_wrong_password(app, ldap):
    app.config["LDAP_BIND_PASSWORD"] = "not-the-service-password"
    with pytest.raises(DirectoryRefused, match="refused SealFlow's bind"):
        log_in("ann", PASSWORDS["ann"])
    with pytest.raises(DirectoryRefused):
        directory.sync(CLI)


def test_start_tls_and_ldaps_check_the_servers_certificate(app, ldap):
    use_directory(app, ldap.url, start_tls=True, ca_file=str(ldap.ca_file))
    assert log_in("ann", PASSWORDS["ann"]) is not None
    use_directory(app, ldap.ldaps_url, ca_file=str(ldap.ca_file))
    assert log_in("bob", PASSWORDS["bob"]) is not None
    for url, start_tls in [(ldap.url, True), (ldap.ldaps_url, False)]:
        use_directory(app, url, start_tls=start_tls)  # the system's roots do not include the test CA
        with pytest.raises(DirectoryUnavailable, match="certificate verify failed|certificate"):
            log_in("ann", PASSWORDS["ann"])


def test_an_account_created_in_sealflow_keeps_its_password_beside_a_directory_namesake(org, ldap):
    """emma exists in SealFlow and in the directory: SealFlow's emma logs in with SealFlow's password only, and the
    sync leaves her alone."""
    assert log_in("emma", PASSWORDS["emma"]) is None
    assert log_in("emma", PASSWORD).id == org.employee.id
    report = directory.sync(CLI)
    db.session.commit()
    assert report.skipped == {"emma": "local"}
    emma = db.session.get(User, org.employee.id)
    assert emma.directory_dn is None and emma.display_name == "Emma" and emma.department.name == "Sales"


def test_a_different_case_finds_the_directory_person_but_never_a_local_account(org, ldap):
    assert log_in("ANN", PASSWORDS["ann"]).username == "ann"  # uid matches case-insensitively, as LDAP does
    assert log_in("EMMA", PASSWORDS["emma"]) is None  # the directory's emma: but emma is SealFlow's account


def test_sync_creates_people_departments_and_roles(org, ldap):
    before = actions()
    report = directory.sync(CLI)
    db.session.commit()
    # The server's size limit is 3 entries: the paged search reads all six people past it.
    assert report.people == 6
    assert sorted(report.created) == ["ann", "bob", "hugo", "lina", "o*brien"]
    assert sorted(report.departments) == ["Head Office", "法务部"]
    assert report.skipped == {"emma": "local"} and not report.deactivated
    users = {u.username: u for u in db.session.execute(select(User).where(User.directory_dn.is_not(None))).scalars()}
    assert {name: (u.display_name, u.department.name, sorted(u.role_names)) for name, u in users.items()} == {
        "hugo": ("Hugo Head", "Head Office", [RoleName.APPROVER, RoleName.EMPLOYEE, RoleName.LEADER]),
        "ann": ("Ann Lee", "Sales", [RoleName.APPROVER, RoleName.EMPLOYEE]),
        "bob": ("Bob", "Sales", [RoleName.EMPLOYEE]),  # no displayName: cn
        "lina": ("李娜", "法务部", [RoleName.EMPLOYEE, RoleName.SEAL_ADMIN]),
        "o*brien": ("Pat O'Brien", "Sales", [RoleName.EMPLOYEE]),
    }
    departments = {d.name: d for d in db.session.execute(select(Department)).scalars()}
    # Sales existed (the org fixture's); Head Office is new and becomes its parent, as in the directory's tree.
    assert departments["Sales"].parent.name == "Head Office" and departments["Head Office"].parent is None
    assert departments["Sales"].id == org.department.id
    assert departments["法务部"].parent is None
    new = actions()[len(before):]
    assert new.count("user.created") == 5 and new.count("department.created") == 2 and new[-1] == "directory.synced"
    # Idempotent: a second sync changes and records nothing.
    again = directory.sync(CLI)
    db.session.commit()
    assert not again.changed and not again.created and not again.updated and len(actions()) == len(before) + len(new)


def test_sync_updates_names_departments_and_roles(org, ldap):
    directory.sync(CLI)
    db.session.commit()
    ldap.modify(PEOPLE_ENTRIES["ann"][0], displayName="Ann Lee-Wong")
    ldap.modify(f"cn=Leaders,{GROUPS}", uniqueMember=[PEOPLE_ENTRIES["ann"][0]])  # hugo out, ann in
    with ldap.admin() as connection:  # bob moves to the legal department
        connection.modify_dn(PEOPLE_ENTRIES["bob"][0], "uid=bob", new_superior=f"ou=法务部,{PEOPLE}")
    report = directory.sync(CLI)
    db.session.commit()
    assert report.updated == {
        "ann": {"display_name": ["Ann Lee", "Ann Lee-Wong"],
                "roles": [["approver", "employee"], ["approver", "employee", "leader"]]},
        "hugo": {"roles": [["approver", "employee", "leader"], ["approver", "employee"]]},
        "bob": {"directory_dn": [PEOPLE_ENTRIES["bob"][0], f"uid=bob,ou=法务部,{PEOPLE}"],
                "department": ["Sales", "法务部"]},
    }
    bob = accounts.find_user("bob")
    assert bob.department.name == "法务部" and bob.directory_dn == f"uid=bob,ou=法务部,{PEOPLE}"
    assert accounts.find_user("ann").has_role(RoleName.LEADER) and not accounts.find_user("hugo").has_role(
        RoleName.LEADER)
    assert actions()[-4:] == ["user.updated", "user.updated", "user.updated", "directory.synced"]


def test_a_login_brings_the_account_up_to_date(ldap):
    log_in("ann", PASSWORDS["ann"])
    ldap.modify(PEOPLE_ENTRIES["ann"][0], displayName="Ann Lee-Wong")
    assert log_in("ann", PASSWORDS["ann"]).display_name == "Ann Lee-Wong"


def test_sync_deactivates_people_who_left_and_reactivates_them_when_back(app, org, ldap):
    directory.sync(CLI)
    db.session.commit()
    bob = accounts.find_user("bob")
    epoch = bob.session_epoch
    ldap.delete(PEOPLE_ENTRIES["bob"][0])
    report = directory.sync(CLI)
    db.session.commit()
    assert report.deactivated == ["bob"] and not report.created and not report.updated
    bob = accounts.find_user("bob")
    assert not bob.active and bob.session_epoch == epoch + 1 and bob.directory_vanished_at is not None
    assert accounts.user_for_session(f"{bob.id}:{epoch}") is None  # his sessions ended
    assert "user.deactivated" in actions()[-2:]
    assert log_in("bob", PASSWORDS["bob"]) is None
    assert db.session.get(User, org.employee.id).active  # accounts created in SealFlow are never touched
    # Idempotent: nothing more to do.
    assert not directory.sync(CLI).changed
    ldap.add(PEOPLE_ENTRIES["bob"][0], ["inetOrgPerson"], uid="bob", cn="Bob", sn="Bob",
                  userPassword=PASSWORDS["bob"])
    report = directory.sync(CLI)
    db.session.commit()
    assert report.reactivated == ["bob"] and accounts.find_user("bob").active
    assert log_in("bob", PASSWORDS["bob"]) is not None


def test_sync_never_reactivates_someone_an_administrator_deactivated(ldap):
    directory.sync(CLI)
    accounts.set_active(accounts.find_user("ann"), False, CLI)
    db.session.commit()
    report = directory.sync(CLI)
    db.session.commit()
    assert not report.reactivated and not accounts.find_user("ann").active
    assert log_in("ann", PASSWORDS["ann"]) is None  # the directory accepts her password; SealFlow does not


def test_a_dry_run_changes_nothing(org, ldap):
    directory.sync(CLI)
    db.session.commit()
    ldap.delete(PEOPLE_ENTRIES["bob"][0])
    ldap.modify(PEOPLE_ENTRIES["ann"][0], displayName="Ann Lee-Wong")
    ldap.add(f"uid=nina,ou=Purchasing,{PEOPLE}", ["inetOrgPerson"], uid="nina", cn="Nina", sn="N",
                  userPassword="nina-pw-1") if False else None
    with ldap.admin() as connection:
        connection.add(f"ou=Purchasing,{PEOPLE}", ["organizationalUnit"], {"ou": "Purchasing"})
        connection.add(f"uid=nina,ou=Purchasing,{PEOPLE}", ["inetOrgPerson"],
                       {"uid": "nina", "cn": "Nina New", "sn": "New", "userPassword": "nina-pw-1"})
    snapshot = (count(User), count(Department), len(actions()), accounts.find_user("bob").active,
                accounts.find_user("ann").display_name)
    report = directory.sync(CLI, dry_run=True)
    db.session.rollback()
    assert report.dry_run and report.created == ["nina"] and report.deactivated == ["bob"]
    assert report.departments == ["Purchasing"] and report.updated == {
        "ann": {"display_name": ["Ann Lee", "Ann Lee-Wong"]}}
    assert (count(User), count(Department), len(actions()), accounts.find_user("bob").active,
            accounts.find_user("ann").display_name) == snapshot
    # The real run does what the dry run said.
    real = directory.sync(CLI)
    db.session.commit()
    assert (real.created, real.deactivated, real.departments, real.updated) == (
        report.created, report.deactivated, report.departments, report.updated)


def test_a_directory_that_lists_nobody_deactivates_nobody(app, ldap):
    directory.sync(CLI)
    db.session.commit()
    app.config["LDAP_USER_FILTER"] = "(objectClass=posixAccount)"  # a mistake: nobody matches
    with pytest.raises(DirectoryRefused, match="lists nobody"):
        directory.sync(CLI)
    db.session.rollback()
    assert all(u.active for u in db.session.execute(select(User)).scalars())


def test_a_wrong_base_is_reported(app, ldap):
    app.config["LDAP_USER_BASE"] = "ou=nobody,dc=example,dc=org"
    with pytest.raises(DirectoryRefused, match="noSuchObject"):
        directory.sync(CLI)


def test_department_from_an_attribute(app, ldap):
    ldap.modify(PEOPLE_ENTRIES["ann"][0], departmentNumber="Key Accounts")
    app.config["LDAP_DEPARTMENT_ATTRIBUTE"] = "departmentNumber"
    directory.sync(CLI)
    db.session.commit()
    assert accounts.find_user("ann").department.name == "Key Accounts"
    assert accounts.find_user("hugo").department is None  # no such attribute: no department
    assert db.session.execute(select(Department).where(Department.name == "Key Accounts")).scalar_one().parent is None


def test_without_role_groups_roles_are_sealflows_to_set(app, ldap):
    app.config["LDAP_ROLE_GROUPS"] = ()
    directory.sync(CLI)
    db.session.commit()
    hugo = accounts.find_user("hugo")
    assert hugo.role_names == {RoleName.EMPLOYEE}  # the default roles for someone new
    roles = accounts.ensure_roles()
    hugo.roles = [roles[RoleName.APPROVER]]
    db.session.commit()
    assert not directory.sync(CLI).changed and accounts.find_user("hugo").role_names == {RoleName.APPROVER}


def test_no_directory_configured(app, org):
    assert not directory.enabled() and not directory.handles(None)
    assert log_in("emma", PASSWORD) is not None
    with pytest.raises(InvalidInput, match="no directory is configured"):
        directory.sync(CLI)


def test_a_department_tree_drawn_otherwise_in_sealflow_is_not_looped(org, ldap):
    """An administrator put Head Office under Sales; the directory says the opposite. SealFlow's tree stands, and
    no department becomes its own ancestor."""
    office = accounts.get_or_create_department("Head Office")
    office.parent = org.department  # Sales
    db.session.commit()
    directory.sync(CLI)
    db.session.commit()
    sales = db.session.get(Department, org.department.id)
    assert sales.parent is None and db.session.get(Department, office.id).parent.id == sales.id


def test_a_department_without_a_parent_gets_the_directorys(org, ldap):
    directory.sync(CLI)
    db.session.commit()
    assert db.session.get(Department, org.department.id).parent.name == "Head Office"
    assert "department.updated" in actions()


def test_the_overview_warns_of_an_unencrypted_directory(app, ldap):
    assert not directory.overview().encrypted
    use_directory(app, ldap.url, start_tls=True)
    assert directory.overview().encrypted
    use_directory(app, ldap.ldaps_url)
    assert directory.overview().encrypted

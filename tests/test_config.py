from config import TestConfig, _database_url


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first, second = TestConfig(tmp_path), TestConfig(tmp_path)
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) == 64
    assert (tmp_path / "secret_key").read_text() == first.SECRET_KEY
    assert first.KEY_SECRET != first.SECRET_KEY


def test_database_url_uses_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_the_instance_folder_and_its_files_are_private(tmp_path):
    import stat

    from app import create_app
    from app.extensions import db

    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    (folder / "redis.db").write_bytes(b"")
    (folder / "redis.db").chmod(0o644)
    app = create_app(TestConfig(folder, SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'sealflow.sqlite'}"))
    with app.app_context():
        db.create_all()  # the SQLite file (and its WAL) are created now, under the narrowed umask
        db.session.execute(db.text("SELECT 1"))
        db.engine.dispose()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"secret_key", "key_secret", "redis.db", "sealflow.sqlite"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}


def test_ldap_settings_are_checked_at_start(tmp_path):
    import pytest

    from app.models import RoleName
    from config import _ROLE_NAMES, _ldap_role_groups, _ldap_roles

    assert set(_ROLE_NAMES) == {role.value for role in RoleName}
    assert _ldap_role_groups("approvers=approver; cn=Leaders,ou=groups,dc=example,dc=org=leader;") == (
        ("approvers", "approver"), ("cn=Leaders,ou=groups,dc=example,dc=org", "leader"))
    for wrong in ("approvers", "approvers=boss", "=approver"):
        with pytest.raises(ValueError, match="SEALFLOW_LDAP_ROLE_GROUPS"):
            _ldap_role_groups(wrong)
    assert _ldap_roles("employee, approver") == ("employee", "approver") and _ldap_roles("") == ()
    with pytest.raises(ValueError, match="SEALFLOW_LDAP_DEFAULT_ROLES: boss"):
        _ldap_roles("employee,boss")
    with pytest.raises(ValueError, match="SEALFLOW_LDAP_USER_BASE"):
        TestConfig(tmp_path, LDAP_URL="ldap://127.0.0.1")._check_ldap()
    with pytest.raises(ValueError, match="must start with ldap:// or ldaps://"):
        TestConfig(tmp_path, LDAP_URL="http://127.0.0.1", LDAP_USER_BASE="dc=x")._check_ldap()
    with pytest.raises(ValueError, match="ldaps:// is encrypted already"):
        TestConfig(tmp_path, LDAP_URL="ldaps://127.0.0.1", LDAP_USER_BASE="dc=x", LDAP_START_TLS=True)._check_ldap()
    TestConfig(tmp_path, LDAP_URL="ldap://127.0.0.1", LDAP_USER_BASE="dc=x", LDAP_START_TLS=True)._check_ldap()

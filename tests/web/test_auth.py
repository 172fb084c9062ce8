from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD, corpus_pdf, file_application, login, logout


def test_pages_need_a_login(client, org):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_wrong_password_and_inactive_user(client, org):
    assert client.post("/login", data={"username": "emma", "password": "nope"}).status_code == 401
    org.employee.active = False
    db.session.commit()
    assert client.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 401


def test_wrong_role_gets_403_and_unknown_ids_404(client, org):
    login(client, "alice")  # auditor: files nothing
    assert client.get("/applications/new").status_code == 403
    assert client.get("/applications/999").status_code == 404
    assert client.get("/tasks/999").status_code == 404


def test_other_employees_cannot_read_an_application(client, org, app):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    logout(client)
    login(client, "olga")
    # Not hers to see: the same 404 as an id that does not exist, so that nobody learns which ids exist.
    assert client.get(f"/applications/{application_id}").status_code == 404
    assert client.get(f"/applications/{application_id}/documents/original").status_code == 404
    logout(client)
    login(client, "alice")
    assert client.get(f"/applications/{application_id}").status_code == 200


def test_csrf_is_enforced(app, client, org):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"username": "emma", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.text


def test_language_from_browser_and_switch(client, org):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Log in" in client.get("/login", headers={"Accept-Language": "en"}).text
    client.post("/language/zh", data={"next": "/login"})
    assert "用户名" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_login_does_not_redirect_offsite(client, org):
    response = client.post("/login?next=//evil.example/", data={"username": "emma", "password": PASSWORD})
    assert response.location == "/"


def test_users_are_stored_with_argon2_hashes(org):
    assert db.session.get(User, org.employee.id).password_hash.startswith("$argon2id$")


def test_a_nul_in_the_username_is_a_failed_login_not_an_error(client, org):
    """PostgreSQL refuses NUL in text: the login looks for nobody instead, and the audit records it visibly."""
    assert client.post("/login", data={"username": "emma\x00", "password": PASSWORD}).status_code == 401
    assert client.post("/login", data={"username": "emma", "password": PASSWORD}).status_code == 302

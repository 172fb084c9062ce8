"""The archive's pages (/archive and its CSV and XLSX exports): who reaches them, the search on the query string,
bad parameters answered 400, the files parsed back; where an auditor lands; a department head opening the
application of someone below them."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import RoleName
from app.services import accounts
from tests.conftest import PASSWORD, Org, contract_pdf, file_application, login, logout

EXPORTS = ("/archive/export.csv", "/archive/export.xlsx")


def _file_two(client: FlaskClient, org: Org) -> tuple[int, int]:
    """emma files a contract with a Chinese company and a letter to a bank; returns their ids."""
    login(client, "emma")
    contract = file_application(client, org.contract_seal.id, contract_pdf(), title="Supply contract 2027",
                                counterparty="上海华东建设有限公司", amount="1,200,000", copies="3")
    letter = file_application(client, org.contract_seal.id, contract_pdf(), title="Letter to the bank",
                              counterparty="中国工商银行", document_type="letter")
    logout(client)
    return contract, letter


@pytest.mark.parametrize("username, allowed", [
    ("emma", False), ("olga", False), ("leo", False), ("alice", True), ("sam", True), ("harry", True)])
def test_auditors_seal_administrators_and_department_heads_reach_the_archive(
        client: FlaskClient, org: Org, username: str, allowed: bool):
    login(client, username)
    for url in ("/archive", *EXPORTS):
        assert client.get(url).status_code == (200 if allowed else 403), url
    assert ('id="nav-archive"' in client.get("/seals").text) is allowed


def test_an_auditor_lands_on_the_archive_and_an_employee_on_their_applications(client: FlaskClient, org: Org):
    login(client, "alice")
    assert client.get("/").location.endswith("/archive")
    logout(client)
    login(client, "sam")  # a seal administrator who files nothing
    assert client.get("/").location.endswith("/archive")
    logout(client)
    login(client, "harry")  # an employee who heads Sales: their (empty) list, and the way to the archive
    page = client.get("/")
    assert page.status_code == 200 and "You have not filed any application yet." in page.text
    assert 'id="archive-link"' in page.text
    logout(client)
    login(client, "emma")
    page = client.get("/")
    assert page.status_code == 200 and 'id="archive-link"' not in page.text


def test_the_archive_finds_by_counterparty_and_sorts(client: FlaskClient, org: Org):
    contract, letter = _file_two(client, org)
    login(client, "alice")
    page = client.get("/archive", query_string={"counterparty": "华东"}).text
    assert f'id="application-{contract}"' in page and f'id="application-{letter}"' not in page
    assert f'href="/applications/{contract}"' in page and "1 application found" in page
    assert "Supply contract 2027" in page and "1,200,000.00" in page
    page = client.get("/archive", query_string={"sort": "amount", "order": "asc"}).text
    assert page.index(f'id="application-{contract}"') < page.index(f'id="application-{letter}"')  # no amount last
    assert 'aria-sort="ascending"' in page and "2 applications found" in page
    # The headers' links keep the criteria and turn the order round.
    page = client.get("/archive", query_string={"counterparty": "银行", "sort": "filed", "order": "desc"}).text
    link = re.search(r'id="sort-filed"', page) and re.search(r'href="([^"]*)" id="sort-filed"', page)
    assert link and "order=asc" in link.group(1) and "counterparty=%E9%93%B6%E8%A1%8C" in link.group(1)
    assert client.get(f"/applications/{contract}").status_code == 200


@pytest.mark.parametrize("query, message", [
    ({"status": "archived"}, "Not a valid choice"),
    ({"document_type": "invoice"}, "Not a valid choice"),
    ({"filed_from": "2027-13-01"}, "Not a valid date value"),
    ({"filed_from": "2027-03-02", "filed_to": "2027-03-01"}, "The last day is before the first."),
    ({"page": "-1"}, "Number must be between 1 and 1000000"),
    ({"page": "99999999999999999999999"}, "Number must be"),
    ({"page": "two"}, "Not a valid integer value"),
    ({"per_page": "7"}, "Not a valid choice"),
    ({"department_id": "abc"}, "Invalid Choice"),
    ({"department_id": "99999999999999999999"}, "Not a valid choice"),
    ({"seal_id": "-5"}, "Not a valid choice"),
    ({"amount_min": "1e400"}, "Give an amount of 0 or more"),
    ({"amount_min": "NaN"}, "Give an amount of 0 or more"),
    ({"amount_min": "100", "amount_max": "5"}, "The upper amount is below the lower one."),
    ({"sort": "reason"}, "Not a valid choice"),
    ({"order": "sideways"}, "Not a valid choice"),
    ({"counterparty": "ACME\x00"}, "Remove the control characters."),
    ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
])
def test_bad_parameters_are_a_400_that_says_why(client: FlaskClient, org: Org, query: dict[str, str], message: str):
    login(client, "alice")
    for url in ("/archive", *EXPORTS):
        response = client.get(url, query_string=query)
        assert response.status_code == 400, (url, query)
        assert message in response.text, (url, query, response.text[-1500:])


def test_the_exports_hold_the_search_as_csv_and_xlsx(client: FlaskClient, org: Org):
    contract, letter = _file_two(client, org)
    login(client, "alice")
    response = client.get("/archive/export.csv", query_string={"counterparty": "华东"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="sealflow-archive-')
    assert response.data.startswith(b"\xef\xbb\xbf")
    [header, row] = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    found = dict(zip(header, row, strict=True))
    assert (found["No."], found["Document title"], found["Counterparty"], found["Amount"], found["Copies"]) == (
        str(contract), "Supply contract 2027", "上海华东建设有限公司", "1200000.00", "3")
    assert (found["Status"], found["Document type"], found["Requester"], found["Department"]) == (
        "Pending approval", "Contract", "Emma (emma)", "Sales")
    assert found["Approval process"] == "Seal application" and len(found["SHA-256 of the original"]) == 64

    response = client.get("/archive/export.xlsx", query_string={"sort": "id", "order": "asc"})
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith(".xlsx")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["No.", "Filed (UTC)", "Document title", "Counterparty"]
    assert [r[0] for r in rows[1:]] == [contract, letter] and rows[2][3] == "中国工商银行"


def test_a_department_head_opens_the_application_of_someone_in_a_department_below(client: FlaskClient, org: Org):
    east = accounts.get_or_create_department("Sales East")
    east.parent = org.department
    eve = accounts.save_user("eve", "Eve", PASSWORD, {RoleName.EMPLOYEE}, east)
    east.head = accounts.save_user("ivan", "Ivan", PASSWORD, {RoleName.EMPLOYEE, RoleName.APPROVER}, east)
    org.contract_seal.user_departments.append(east)
    db.session.commit()
    assert eve.id
    login(client, "eve")
    application_id = file_application(client, org.contract_seal.id, contract_pdf(), counterparty="ACME")
    logout(client)
    login(client, "harry")  # heads Sales, above Sales East; ivan decides, so harry has no task on it
    assert f'id="application-{application_id}"' in client.get("/archive?counterparty=acme").text
    assert client.get(f"/applications/{application_id}").status_code == 200
    logout(client)
    login(client, "olga")  # heads nothing
    assert client.get(f"/applications/{application_id}").status_code == 404

"""The archive (app/services/archive.py): every criterion, who sees what, sorting, paging, and the CSV and XLSX
exports with their formula guard."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import update

from app.errors import ExportTooLarge, InvalidInput, PermissionDenied
from app.extensions import db
from app.models import ApplicationStatus, Department, RoleName, Seal, SealApplication, SealKind, User
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import accounts, applications, approvals, archive, seals
from app.services.applications import ApplicationSpec
from app.services.archive import ArchiveSearch
from tests.conftest import PASSWORD, Org, corpus_pdf, work_off_queue

ACTOR = Actor.system("test")
PDF = corpus_pdf("minimal-document.pdf")


@dataclass
class Filed:
    """The archive's fixture: Sales (head harry) with Sales East below it (eve), Office (oscar) beside it, and five
    applications, by title."""

    east: Department
    office: Department
    eve: User
    oscar: User
    company_seal: Seal
    ids: dict[str, int]


def _file(user: User, seal: Seal, title: str, counterparty: str = "", document_type: str = "contract",
          amount: str | None = None, copies: int = 1) -> int:
    spec = ApplicationSpec(seal_id=seal.id, document_type=document_type, filename="doc.pdf", content=PDF,
                           reason="For the archive", title=title, counterparty=counterparty, copies=copies,
                           amount=None if amount is None else Decimal(amount))
    application = applications.submit(spec, user, Actor.of(user)).application
    db.session.commit()
    return application.id


def _filed_on(application_id: int, day: str) -> None:
    db.session.execute(update(SealApplication).where(SealApplication.id == application_id)
                       .values(created_at=datetime.fromisoformat(f"{day} 10:00:00")))
    db.session.commit()


@pytest.fixture
def filed(app: Flask, org: Org) -> Filed:
    east = accounts.get_or_create_department("Sales East")
    east.parent = org.department
    office = accounts.get_or_create_department("Office")
    eve = accounts.save_user("eve", "Eve Chen", PASSWORD, {RoleName.EMPLOYEE}, east)
    oscar = accounts.save_user("oscar", "Oscar Wang", PASSWORD, {RoleName.EMPLOYEE}, office)
    company = seals.create_seal("Company Seal", SealKind.COMPANY, SealImageSpec("TEST ORG", "OFFICIAL SEAL"), ACTOR,
                                office)
    everyone = (org.department.id, east.id, office.id)
    seals.set_holders(company.id, seals.HoldersSpec(department_ids=everyone), ACTOR)
    seals.set_holders(org.contract_seal.id, seals.HoldersSpec(department_ids=everyone), ACTOR)
    db.session.commit()
    ids = {
        "supply": _file(org.employee, org.contract_seal, "Supply contract 2027", "上海华东建设有限公司",
                        amount="1200000", copies=2),
        "bank": _file(org.employee, company, "Letter to the bank", "中国工商银行", document_type="letter"),
        "framework": _file(eve, org.contract_seal, "Framework agreement", "ACME Trading Ltd",
                           document_type="agreement", amount="50000"),
        "report": _file(oscar, company, "Annual report", document_type="report"),
        "hostile": _file(org.head, org.contract_seal, "=HYPERLINK(\"http://evil.example\")", "@SUM(A1)",
                         amount="10.50"),
    }
    for name, day in (("supply", "2027-01-10"), ("bank", "2027-02-01"), ("framework", "2027-02-15"),
                      ("report", "2027-03-01"), ("hostile", "2027-03-02")):
        _filed_on(ids[name], day)
    applications.withdraw(ids["report"], oscar, Actor.of(oscar))
    db.session.commit()
    return Filed(east, office, eve, oscar, company, ids)


def _found(user: User, **criteria: object) -> list[int]:
    search = ArchiveSearch(per_page=100, **criteria)  # type: ignore[arg-type]
    return [row.id for row in archive.search_archive(search, user).rows]


def _names(filed: Filed, ids: list[int]) -> set[str]:
    return {name for name, i in filed.ids.items() if i in ids}


def test_each_criterion_narrows_the_search(org: Org, filed: Filed):
    cases: list[tuple[dict[str, object], set[str]]] = [
        ({}, {"supply", "bank", "framework", "report", "hostile"}),
        ({"counterparty": "acme"}, {"framework"}),  # any part, any case
        ({"counterparty": "华东"}, {"supply"}),
        ({"counterparty": "%"}, set()),  # a LIKE wildcard is a character like any other
        ({"title": " LETTER "}, {"bank"}),
        ({"document_type": "agreement"}, {"framework"}),
        ({"requester": "EVE"}, {"framework"}),  # username
        ({"requester": "wang"}, {"report"}),  # name
        ({"department_id": org.department.id}, {"supply", "bank", "framework", "hostile"}),  # Sales and below
        ({"department_id": filed.east.id}, {"framework"}),
        ({"seal_id": filed.company_seal.id}, {"bank", "report"}),
        ({"status": ApplicationStatus.WITHDRAWN}, {"report"}),
        ({"status": ApplicationStatus.PENDING}, {"supply", "bank", "framework", "hostile"}),
        ({"filed_from": date(2027, 2, 1)}, {"bank", "framework", "report", "hostile"}),  # the first day included
        ({"filed_to": date(2027, 2, 15)}, {"supply", "bank", "framework"}),  # the last day included, all of it
        ({"filed_from": date(2027, 2, 2), "filed_to": date(2027, 3, 1)}, {"framework", "report"}),
        ({"amount_min": Decimal("50000")}, {"supply", "framework"}),
        ({"amount_max": Decimal("50000")}, {"framework", "hostile"}),  # no amount: never within a range
        ({"amount_min": Decimal("11"), "amount_max": Decimal("100000")}, {"framework"}),
        ({"counterparty": "acme", "status": ApplicationStatus.WITHDRAWN}, set()),
    ]
    for criteria, expected in cases:
        assert _names(filed, _found(org.auditor, **criteria)) == expected, criteria


def test_auditors_and_seal_administrators_see_everything_and_a_head_their_departments(org: Org, filed: Filed):
    everything = set(filed.ids)
    assert _names(filed, _found(org.auditor)) == everything
    assert _names(filed, _found(org.seal_admin)) == everything
    # harry heads Sales: its people's and those of Sales East below it, not Office's.
    assert _names(filed, _found(org.head)) == {"supply", "bank", "framework", "hostile"}
    assert _found(org.head, department_id=filed.office.id) == []
    assert _found(org.head, requester="oscar") == []
    ivan = accounts.save_user("ivan", "Ivan", PASSWORD, {RoleName.APPROVER}, filed.east)
    filed.east.head = ivan
    db.session.commit()
    assert _names(filed, _found(ivan)) == {"framework"}
    assert archive.can_search(ivan) and archive.can_search(org.auditor) and archive.can_search(org.seal_admin)


@pytest.mark.parametrize("who", ["employee", "other_approver", "leader"])
def test_anybody_else_is_refused(org: Org, filed: Filed, who: str):
    user = getattr(org, who)
    assert not archive.can_search(user)
    with pytest.raises(PermissionDenied):
        archive.search_archive(ArchiveSearch(), user)
    with pytest.raises(PermissionDenied):
        archive.export_rows(ArchiveSearch(), user)


def test_sorting_by_each_column_and_paging(org: Org, filed: Filed):
    ids = filed.ids
    assert _found(org.auditor) == [ids[n] for n in ("hostile", "report", "framework", "bank", "supply")]  # newest
    assert _found(org.auditor, sort="filed", descending=False)[0] == ids["supply"]
    # Applications without an amount come last whichever way.
    assert _found(org.auditor, sort="amount", descending=False)[:3] == [ids["hostile"], ids["framework"],
                                                                         ids["supply"]]
    assert _found(org.auditor, sort="amount")[:3] == [ids["supply"], ids["framework"], ids["hostile"]]
    by_title = [i for i in _found(org.auditor, sort="title", descending=False) if i != ids["hostile"]]
    assert by_title == [ids[n] for n in ("report", "framework", "bank", "supply")]  # (collations place "=" apart)
    assert _found(org.auditor, sort="requester", descending=False)[:2] == sorted([ids["supply"], ids["bank"]])
    assert _found(org.auditor, sort="department", descending=False)[0] == ids["report"]  # Office before Sales
    assert _found(org.auditor, sort="seal", descending=False)[:2] == sorted([ids["bank"], ids["report"]])
    for column in archive.SORT_COLUMNS:  # every column sorts, both ways
        assert sorted(_found(org.auditor, sort=column)) == sorted(ids.values())
        assert sorted(_found(org.auditor, sort=column, descending=False)) == sorted(ids.values())
    with pytest.raises(InvalidInput, match="cannot sort by"):
        _found(org.auditor, sort="reason; DROP TABLE users")

    pages = [archive.search_archive(ArchiveSearch(per_page=2, page=n, sort="id", descending=False), org.auditor)
             for n in (1, 2, 3, 4, 0)]
    assert [p.rows[0].id for p in pages[:3]] == sorted(ids.values())[::2]
    assert [(p.total, p.pages, p.page, len(p.rows)) for p in pages] == [
        (5, 3, 1, 2), (5, 3, 2, 2), (5, 3, 3, 1), (5, 3, 3, 1), (5, 3, 1, 2)]  # past the last: the last; 0: the first


def test_a_row_carries_what_the_archive_shows(org: Org, filed: Filed):
    [row] = archive.search_archive(ArchiveSearch(title="Supply"), org.auditor).rows
    assert (row.title, row.counterparty, row.document_type, row.amount, row.copies) == (
        "Supply contract 2027", "上海华东建设有限公司", "contract", Decimal("1200000.00"), 2)
    assert (row.requester, row.requester_username, row.department, row.seal, row.process_id) == (
        "Emma", "emma", "Sales", "Contract Seal", "seal_application")
    assert row.status == ApplicationStatus.PENDING and row.sealed_at is None
    assert row.filed_at == datetime(2027, 1, 10, 10, 0) and row.original_sha256 == hashlib.sha256(PDF).hexdigest()


@pytest.mark.parametrize("criteria, message", [
    ({"counterparty": "x" * 201}, "at most 200"),
    ({"requester": "a\x00b"}, "NUL"),
    ({"document_type": "invoice"}, "unknown document type"),
    ({"per_page": 0}, "1 to 100"),
    ({"per_page": 101}, "1 to 100"),
])
def test_bad_criteria_are_refused(org: Org, filed: Filed, criteria: dict[str, object], message: str):
    with pytest.raises(InvalidInput, match=message):
        archive.search_archive(ArchiveSearch(**criteria), org.auditor)  # type: ignore[arg-type]


def _seal_bank_letter(app: Flask, org: Org, filed: Filed) -> None:
    """harry approves emma's letter to the bank (the only approval it needs) and the worker seals it."""
    [task] = [t for t in approvals.inbox(org.head) if t.instance.application_id == filed.ids["bank"]]
    approvals.decide(task.id, org.head, "approve", "fine", Actor.of(org.head))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()


def test_the_csv_export_holds_every_match_with_a_bom_and_guarded_formulas(app: Flask, org: Org, filed: Filed):
    _seal_bank_letter(app, org, filed)
    rows = archive.export_rows(ArchiveSearch(per_page=1, page=2, sort="id", descending=False), org.auditor)
    assert [r.id for r in rows] == sorted(filed.ids.values())  # every row, whatever the page
    data = archive.export_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == list(archive.EXPORT_COLUMNS) and len(table) == 6
    supply = dict(zip(table[0], table[1], strict=True))
    assert supply["title"] == "Supply contract 2027" and supply["counterparty"] == "上海华东建设有限公司"
    assert (supply["amount"], supply["copies"], supply["status"], supply["requester"], supply["sealed_at"]) == (
        "1200000.00", "2", "pending", "Emma (emma)", "")
    assert supply["filed_at"] == "2027-01-10 10:00:00"
    assert supply["original_sha256"] == hashlib.sha256(PDF).hexdigest()
    bank = dict(zip(table[0], table[2], strict=True))
    assert bank["status"] == "sealed" and bank["amount"] == "" and bank["document_type"] == "letter"
    sealed_at = datetime.fromisoformat(bank["sealed_at"])
    assert abs((datetime.now(UTC).replace(tzinfo=None) - sealed_at).total_seconds()) < 600
    hostile = dict(zip(table[0], table[5], strict=True))
    assert hostile["title"] == "'=HYPERLINK(\"http://evil.example\")" and hostile["counterparty"] == "'@SUM(A1)"
    assert all(not cell.startswith(archive.FORMULA_STARTS) for line in table for cell in line)
    labelled = archive.export_csv(rows, archive.ExportLabels(headers={"title": "标题", "amount": "+amount"},
                                                              status=str.upper))
    header, first = list(csv.reader(io.StringIO(labelled.decode("utf-8-sig"))))[:2]
    assert header[2:6] == ["标题", "counterparty", "document_type", "'+amount"] and first[11] == "PENDING"


def test_the_xlsx_export_opens_with_numbers_times_and_guarded_formulas(app: Flask, org: Org, filed: Filed):
    rows = archive.export_rows(ArchiveSearch(sort="id", descending=False), org.auditor)
    # A control character a worksheet cannot hold is dropped rather than failing the export.
    rows[1] = replace(rows[1], title="Letter\x01 to the bank")
    book = openpyxl.load_workbook(io.BytesIO(archive.export_xlsx(rows, sheet_title="档案")))
    sheet = book["档案"]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert list(table[0]) == list(archive.EXPORT_COLUMNS) and len(table) == 6
    supply = dict(zip(table[0], table[1], strict=True))
    assert supply["id"] == filed.ids["supply"] and supply["amount"] == 1200000 and supply["copies"] == 2
    assert supply["filed_at"] == datetime(2027, 1, 10, 10, 0) and supply["sealed_at"] is None
    assert supply["counterparty"] == "上海华东建设有限公司" and supply["department"] == "Sales"
    assert dict(zip(table[0], table[2], strict=True))["title"] == "Letter to the bank"
    hostile = dict(zip(table[0], table[5], strict=True))
    assert hostile["title"] == "'=HYPERLINK(\"http://evil.example\")" and hostile["counterparty"] == "'@SUM(A1)"
    assert hostile["amount"] == 10.5
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)  # no formula anywhere


def test_an_export_past_the_limit_is_refused_with_the_count(org: Org, filed: Filed):
    assert archive.EXPORT_LIMIT == 50_000
    with pytest.raises(ExportTooLarge, match="finds 5 applications; an export holds at most 4") as refused:
        archive.export_rows(ArchiveSearch(), org.auditor, limit=4)
    assert (refused.value.total, refused.value.limit) == (5, 4)
    assert len(archive.export_rows(ArchiveSearch(requester="emma"), org.auditor, limit=2)) == 2

"""/stats over HTTP: only auditors and seal administrators, the charts and tables of a period, bad dates answered
clearly, CSV and XLSX exports read back (formulas defused), and the usage ledger as a PDF."""

import csv
import io
import subprocess

import openpyxl
import pytest

from app.extensions import db
from tests.conftest import login
from tests.pdf.verifiers import qpdf_check
from tests.services.usage_data import build_uses

HALF = {"from": "2026-01-01", "to": "2026-06-30"}


@pytest.mark.parametrize("url", ["/stats", "/stats/export.csv", "/stats/export.xlsx", "/stats/ledger.pdf?seal=1"])
def test_refused_to_an_employee_and_asks_a_stranger_to_log_in(client, org, url):
    assert client.get(url).status_code == 302  # to the login page
    login(client, "emma")
    assert client.get(url).status_code == 403
    assert 'id="nav-stats"' not in client.get("/seals").text


def test_the_page_charts_and_tabulates_the_period(client, org):
    built = build_uses(org)
    built.company_seal.name = "<b>公章</b> & Co"
    db.session.commit()
    login(client, "alice")
    assert 'id="nav-stats"' in client.get("/seals").text
    page = client.get("/stats", query_string=HALF)
    assert page.status_code == 200
    text = page.text
    for chart in ("chart-months", "chart-seals", "chart-departments", "chart-document-types", "chart-processes"):
        assert f'id="{chart}"' in text
    assert "4 seal uses from 2026-01-01 to 2026-06-30" in text
    assert "Contract Seal" in text and "No department" not in text
    assert "&lt;b&gt;公章&lt;/b&gt; &amp; Co" in text and "<b>公章" not in text  # labels are escaped
    assert 'href="/stats/export.xlsx?from=2026-01-01&amp;to=2026-06-30"' in text


def test_a_seal_administrator_sees_it_too_by_default_the_last_twelve_months(client, org):
    login(client, "sam")
    page = client.get("/stats")
    assert page.status_code == 200 and "0 seal uses" in page.text


@pytest.mark.parametrize("query", [{"from": "2026-02-30"}, {"from": "2026-05-01", "to": "2026-04-01"},
                                   {"to": "yesterday"}, {"from": "2000-01-01", "to": "2026-01-01"},
                                   {"from": "99999-01-01"}])
def test_bad_dates_are_a_clear_400(client, org, query):
    login(client, "alice")
    page = client.get("/stats", query_string=query)
    assert page.status_code == 400 and 'id="period-problem"' in page.text
    for url, extra in (("/stats/export.csv", {}), ("/stats/export.xlsx", {}), ("/stats/ledger.pdf", {"seal": 1})):
        answer = client.get(url, query_string={**query, **extra})
        assert answer.status_code == 400 and "The period cannot be read" in answer.text


def test_csv_holds_every_table_or_the_one_asked_for(client, org):
    built = build_uses(org)
    built.company_seal.name = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    login(client, "alice")
    answer = client.get("/stats/export.csv", query_string=HALF)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "seal-usage-20260101-20260630.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert ["Uses by seal"] in rows and ["Approval lead times"] in rows
    assert ["'=HYPERLINK(\"http://evil\")", "2"] in rows and ["Contract Seal", "2"] in rows
    assert ["Sales", "3"] in rows and ["Agreement", "2"] in rows and ["2026-03", "2"] in rows

    months = client.get("/stats/export.csv", query_string={**HALF, "table": "months"})
    assert list(csv.reader(io.StringIO(months.data.decode("utf-8-sig"))))[:4] == [
        ["Month", "Uses"], ["2026-01", "0"], ["2026-02", "0"], ["2026-03", "2"]]
    assert client.get("/stats/export.csv", query_string={**HALF, "table": "nope"}).status_code == 400


def test_xlsx_has_a_sheet_per_table_with_numbers_as_numbers(client, org):
    built = build_uses(org)
    built.company_seal.name = "@SUM(A1:A9)"
    db.session.commit()
    login(client, "sam")
    answer = client.get("/stats/export.xlsx", query_string=HALF)
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["Uses by seal", "Uses by department", "Uses by month", "Uses by document type",
                               "Uses by process", "Approval lead times"]
    seals = [tuple(row) for row in book["Uses by seal"].iter_rows(values_only=True)]
    assert seals[0] == ("Seal", "Uses") and ("'@SUM(A1:A9)", 2) in seals and ("Contract Seal", 2) in seals
    assert book["Uses by seal"]["A2"].data_type == "s"  # text, not a formula
    assert ("2026-04", 2) in [tuple(r) for r in book["Uses by month"].iter_rows(values_only=True)]


def test_the_ledger_pdf_lists_the_seals_uses(client, org, tmp_path):
    build_uses(org)
    login(client, "alice")
    answer = client.get("/stats/ledger.pdf", query_string={**HALF, "seal": org.contract_seal.id})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    path = tmp_path / "ledger.pdf"
    path.write_bytes(answer.data)
    sound, said = qpdf_check(path)
    assert sound, said
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()
    for expected in ("Seal usage ledger · Contract Seal", "2026-01-01 – 2026-06-30", "采购合同 2026-017",
                     "framework.pdf", "Emma (Sales)", "Printed", "by Alice", "Page 1 of 1"):
        assert expected in text, expected
    assert client.get("/stats/ledger.pdf", query_string=HALF).status_code == 400
    assert client.get("/stats/ledger.pdf", query_string={**HALF, "seal": 99999}).status_code == 404

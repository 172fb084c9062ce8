"""A revoked seal's compromise report over HTTP: revoking for key compromise lands on the seal's page with the
report; employees are refused; a bad start is a clear 400; the CSV reads back (formulas defused) and the draft
notice is a sound PDF."""

import csv
import io
import subprocess
from datetime import datetime

import pytest

from app.extensions import db
from app.models import Seal
from tests.conftest import login
from tests.pdf.verifiers import qpdf_check
from tests.services.usage_data import Uses, build_uses


def revoke(client, seal: Seal, reason: str = "keyCompromise", at: datetime = datetime(2026, 4, 10)):
    """Sam revokes the seal on its page; then the revocation is moved to the time the tests choose."""
    login(client, "sam")
    answer = client.post(f"/seals/{seal.id}/status", data={"status": "revoked", "revocation_reason": reason})
    db.session.refresh(seal)
    seal.revoked_at = at
    db.session.commit()
    return answer


@pytest.fixture
def built(org) -> Uses:
    built = build_uses(org)
    built.applications["a"].counterparty = "华东建设有限公司"
    built.applications["b"].counterparty = "=cmd|' /C calc'!A0"
    db.session.commit()
    return built


def urls(seal_id: int) -> list[str]:
    return [f"/seals/{seal_id}/compromise", f"/seals/{seal_id}/compromise/exposure.csv",
            f"/seals/{seal_id}/compromise/notice.pdf"]


def test_revoking_for_key_compromise_lands_on_the_report(client, org, built):
    answer = revoke(client, org.contract_seal)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/seals/{org.contract_seal.id}#compromise-report")
    page = client.get(f"/seals/{org.contract_seal.id}").text
    assert "revoked for key compromise" in page and 'id="compromise-report"' in page
    # The report starts 90 days before the revocation (10 April): a's two versions and b's first.
    assert "3 document versions on 2 applications, 2 counterparties, sealed from 2026-01-10 00:00:00 UTC" in page
    assert page.count(f'href="/applications/{built.applications["a"].id}"') == 2
    assert "华东建设有限公司" in page and "采购合同 2026-017" in page
    assert f'href="/seals/{org.contract_seal.id}/compromise/notice.pdf"' in page


def test_another_reason_links_to_the_report_and_a_start_narrows_it(client, org, built):
    revoke(client, org.contract_seal, "superseded")
    page = client.get(f"/seals/{org.contract_seal.id}").text
    assert 'id="compromise-link"' in page and 'id="exposure"' not in page
    report = client.get(f"/seals/{org.contract_seal.id}/compromise", query_string={"since": "2026-03-11"})
    assert report.status_code == 200
    assert "2 document versions on 2 applications" in report.text
    assert f'href="/seals/{org.contract_seal.id}/compromise/exposure.csv?since=2026-03-11T00:00:00"' in report.text


def test_employees_are_refused_and_strangers_asked_to_log_in(client, org, built):
    revoke(client, org.contract_seal)
    client.post("/logout")
    for url in urls(org.contract_seal.id):
        assert client.get(url).status_code == 302
    login(client, "emma")
    for url in urls(org.contract_seal.id):
        assert client.get(url, query_string={"since": "nonsense"}).status_code == 403
    assert 'id="compromise-report"' not in client.get(f"/seals/{org.contract_seal.id}").text


@pytest.mark.parametrize("since", ["2026-02-30", "yesterday", "0001-01-01", "2026-04-11"])
def test_a_bad_start_is_a_clear_400(client, org, built, since):
    revoke(client, org.contract_seal)
    login(client, "alice")
    for url in urls(org.contract_seal.id):
        answer = client.get(url, query_string={"since": since})
        assert answer.status_code == 400 and "The start cannot be read" in answer.text, url
    assert 'id="since-problem"' in client.get(urls(org.contract_seal.id)[0], query_string={"since": since}).text


def test_a_seal_still_in_use_has_no_report(client, org, built):
    login(client, "alice")
    assert client.get(f"/seals/{org.contract_seal.id}/compromise").status_code == 409
    assert 'id="compromise-report"' not in client.get(f"/seals/{org.contract_seal.id}").text


def test_the_csv_reads_back_with_formulas_defused(client, org, built):
    revoke(client, org.contract_seal)
    login(client, "alice")
    answer = client.get(f"/seals/{org.contract_seal.id}/compromise/exposure.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f"compromise-{org.contract_seal.id}-20260110.csv" in answer.headers["Content-Disposition"]
    assert answer.data.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert header[:5] == ["Sealed (UTC)", "Application", "Document title", "Counterparty", "Document type"]
    assert [(r[0], r[1], r[7]) for r in rows] == [
        ("2026-03-10 09:00:00", str(built.applications["a"].id), "1"),
        ("2026-03-11 09:00:00", str(built.applications["a"].id), "2"),
        ("2026-03-12 09:00:00", str(built.applications["b"].id), "1")]
    assert rows[0][3:5] == ["华东建设有限公司", "Contract"] and rows[2][3] == "'=cmd|' /C calc'!A0"


def test_the_draft_notice_is_served_as_a_sound_pdf(client, org, built, tmp_path):
    revoke(client, built.company_seal)  # its uses: b's second version (a party's signature) and c
    login(client, "alice")
    answer = client.get(f"/seals/{built.company_seal.id}/compromise/notice.pdf", query_string={"since": "2026-04-02"})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    path = tmp_path / "notice.pdf"
    path.write_bytes(answer.data)
    sound, said = qpdf_check(path)
    assert sound, said
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                                   timeout=60).stdout.decode().split())
    assert "作废声明" in text and "公章 Company Seal" in text and "2026-04-02 00:00 UTC" in text
    assert f"#{built.applications['c'].id}" in text and f"#{built.applications['b'].id} " not in text

"""Story 4 of DESIGN.md in Chromium, as an auditor lives it: alice finds an application by its counterparty in the
archive and exports the result (XLSX, read back with openpyxl), opens the application, sees every step on the diagram
with who acted and when and its audit trail verified, replays the history, runs the check of the whole log, downloads
the certificate of completion (checked by an independent verifier), and looks at the anomalies and the upkeep page.
Screenshots (1280 and 390 px) go to /tmp/shots-auditor/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
from flask import Flask
from playwright.sync_api import Page

from app.extensions import db
from app.models.audit import Actor
from app.services import applications, approvals
from app.services.applications import ApplicationSpec
from tests.conftest import Org, corpus_pdf
from tests.web.browsing import login, run_worker

SHOTS = Path("/tmp/shots-auditor")
ROOT = Path(__file__).resolve().parents[2]


def _shots(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _file(org: Org, title: str, counterparty: str, amount: str) -> int:
    from decimal import Decimal
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                           content=corpus_pdf("pdflatex-4-pages.pdf"), reason="Supply for the new plant",
                           title=title, counterparty=counterparty, amount=Decimal(amount))
    application_id = applications.submit(spec, org.employee, Actor.of(org.employee)).application.id
    db.session.commit()
    return application_id


def _decide(user, decision: str, application_id: int) -> None:
    [task] = [t for t in approvals.inbox(user) if t.instance.application_id == application_id]
    approvals.decide(task.id, user, decision, f"{decision}: see the delivery terms", Actor.of(user))
    db.session.commit()


def _chain_and_anchor(app: Flask) -> None:
    """What the clock's tick does, in a process of its own (the TSA client runs asyncio, refused in this thread)."""
    env = {**os.environ, "SEALFLOW_INSTANCE_PATH": app.instance_path}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "chain"], env=env, check=True, cwd=ROOT,
                   capture_output=True)


def test_an_auditor_reviews_a_sealed_application_end_to_end(app: Flask, org: Org, live_url: str, strict_page: Page,
                                                            tmp_path: Path):
    application_id = _file(org, "钢材供货合同 2027-014", "上海远航物流有限公司", "86000")
    _file(org, "Office lease", "Globex", "120000")
    _decide(org.head, "return", application_id)
    _decide(org.employee, "resubmit", application_id)
    _decide(org.head, "approve", application_id)
    run_worker(app)
    _chain_and_anchor(app)

    page = strict_page
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_url, "alice")
    page.wait_for_url(f"{live_url}/archive")
    page.fill("#counterparty", "远航")
    page.click("#search")
    assert "1 application found" in page.inner_text("#found")
    _shots(page, "1-archive")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    saved = tmp_path / "archive.xlsx"
    download.value.save_as(saved)
    header, *rows = [list(r) for r in openpyxl.load_workbook(saved).active.iter_rows(values_only=True)]
    [row] = [dict(zip(header, r, strict=True)) for r in rows]
    assert (row["No."], row["Counterparty"], row["Status"]) == (application_id, "上海远航物流有限公司", "Sealed")

    page.click(f"#application-{application_id} a >> nth=0")
    page.wait_for_selector("#path-viewer[data-ready=true]")
    assert "Audit trail verified" in page.inner_text("#audit-trail-verdict")
    assert "Time-stamped by the time-stamp authority" in page.inner_text("#audit-trail-verdict")
    done = page.eval_on_selector_all(".djs-element.sf-path-done", "nodes => nodes.map(n => n.dataset.elementId)")
    assert {"policy_approval", "revise", "stamp_and_sign", "sealed"} <= set(done)
    page.click("[data-element-id=policy_approval]")
    events = page.inner_text("#path-element-events")
    assert "Harry" in events and "Return for revision" in events and "Approve" in events
    page.click("#replay-first")
    assert page.eval_on_selector_all(".djs-element.sf-path-done", "nodes => nodes.length") == 0
    page.click("#replay-next")
    page.click("#replay-last")
    _shots(page, "2-application")

    with page.expect_download() as download:
        page.click("#download-certificate")
    certificate = tmp_path / "certificate.pdf"
    download.value.save_as(certificate)
    # Checked as a reader would, in a process of its own (pyHanko's asyncio is refused in the browser's thread).
    env = {**os.environ, "SEALFLOW_INSTANCE_PATH": app.instance_path}
    verified = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "pdf", "verify", str(certificate)],
                              env=env, cwd=ROOT, capture_output=True, text=True)
    assert verified.returncode == 0 and "SealFlow system seal" in verified.stdout, verified.stdout + verified.stderr
    text = subprocess.run(["pdftotext", str(certificate), "-"], capture_output=True, text=True).stdout
    assert "钢材供货合同 2027-014" in text and "Harry (harry)" in text

    page.click("#nav-audit")
    page.click("#run-check")
    assert "The log is intact" in page.inner_text("#check-result")
    _shots(page, "3-audit")
    page.click("#to-anomalies")
    assert page.locator("#anomalies-split").count() == 1
    _shots(page, "4-anomalies")
    page.goto(f"{live_url}/upkeep")
    assert page.locator("#upkeep-due").count() == 1
    _shots(page, "5-upkeep")

"""The seal administrator's flows in a real browser: the list, the modeler with live validation, deployment under
dual control, and the diff."""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.extensions import db
from app.models import Department, RoleName, Seal
from app.models.audit import Actor
from app.services import accounts, applications
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, contract_pdf
from tests.web.browsing import login, run_worker
from tests.workflow.test_simulation import row_counts

SHOTS = Path("/tmp/shots-flows")


@pytest.fixture
def nora(org):
    """A second seal administrator."""
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_modeler_opens_a_shipped_flow_and_finds_no_problems(live_url: str, strict_page: Page):
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-flows")
    assert page.locator("#process-seal_application").is_visible()
    _shot(page, "flows-index")
    page.click("#version-seal_application-1 >> text=Open")
    page.wait_for_selector("#status.ok", timeout=20000)
    assert page.locator(".djs-element[data-element-id=policy_approval]").count() == 1
    _shot(page, "modeler")




def _review_as_nora(browser, live_url: str) -> Page:
    """The second seal administrator, on the review step of the waiting deployment."""
    other = browser.new_page()
    login(other, live_url, "nora")
    other.click("text=Inbox")
    other.click("text=Review the deployment")
    return other


def _approve(app, review: Page) -> None:
    """Approve on the review page; a worker deploys it."""
    review.check("input[value=approve]")
    review.click("#submit")
    run_worker(app)


def _problems(page: Page) -> str:
    page.wait_for_selector("#status.ok, #status.error")  # checked (while checking, the status has neither class)
    return page.inner_text("#problems")


def test_draw_a_flow_see_its_problems_come_and_go_deploy_it_and_a_second_administrator_approves(
        app, live_url: str, strict_page: Page, browser, nora):
    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows")
    page.click("#new-flow")
    page.wait_for_selector("#status.ok")
    # A task appended to the start event with the context pad: SealFlow cannot run a plain task.
    page.click(".djs-element[data-element-id=submitted]")
    page.click(".djs-context-pad [data-action='append.append-task']")
    page.wait_for_selector(".djs-element.sf-problem")
    assert "cannot run a task" in _problems(page)
    # The wrench turns it into a user task; the properties panel offers it to the approvers.
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='replace-with-user-task']")
    page.click("[data-group-id='group-CamundaPlatform__UserAssignment'] .bio-properties-panel-group-header")
    page.fill("#bio-properties-panel-candidateGroups", "approver")
    page.click(".djs-context-pad [data-action='append.end-event']")
    page.wait_for_selector("#status.ok")
    assert page.locator(".djs-element.sf-problem").count() == 0
    _shot(page, "modeler-drawn")
    page.fill("#comment", "a first review flow")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")
    assert "a first review flow" in page.inner_text("#deployment-comment")
    assert page.locator("#withdraw").is_visible()
    _shot(page, "deployment-request")

    other = _review_as_nora(browser, live_url)
    assert other.locator("#deployment-under-review").is_visible()
    _approve(app, other)
    other.goto(f"{live_url}/flows")
    _shot(other, "flows-after-deployment")
    row = other.inner_text("[id^=process-process_] .versions tbody tr")
    assert "a first review flow" in row and "approved by Nora" in row
    other.close()


def _edit_cell(page: Page, rule: str, column: str, text: str) -> None:
    cell = page.locator(f"td[data-row-id={rule}][data-col-id={column}] [contenteditable]")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)
    page.click("h1")  # leave the cell


def test_edit_the_policy_table_see_a_refused_cell_marked_back_test_deploy_it_and_compare(
        app, org, live_url: str, strict_page: Page, browser, nora):
    for amount in ("600000", "50000"):  # filed before: only the first needs a seal administrator under the draft
        applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                                            content=contract_pdf(), reason="supply", amount=Decimal(amount)),
                            org.employee, Actor.system("test"))
    db.session.commit()
    page = strict_page
    login(page, live_url, "sam")
    page.click("#nav-policies")
    _shot(page, "policies-index")
    page.click("#policy-version-1 >> text=Open")
    page.wait_for_selector("#status.ok")
    _edit_cell(page, "contract_over_a_million", "input_amount", "? >= __import__('os').getpid()")
    page.wait_for_selector("#status.error")
    assert "refused" in page.inner_text("#problems")
    assert page.locator("td.sf-problem-cell[data-row-id=contract_over_a_million]").count() > 0
    _shot(page, "policy-editor-problem")
    _edit_cell(page, "contract_over_a_million", "input_amount", "? >= 500000")
    page.wait_for_selector("#status.ok")
    before = row_counts()
    page.fill("#months", "3")
    page.click("#back-test")
    page.wait_for_selector("#back-test-result")
    assert "2 applications judged: 1 routed differently" in page.inner_text("#counts")
    assert "contract of 1,000,000 or more" in page.inner_text("#changed tbody tr")
    assert row_counts() == before
    _shot(page, "policy-back-test")
    page.fill("#comment", "seal administrators review from 500,000")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")
    page.click("#show-diff")
    assert "? >= 500000" in page.inner_text("#rule-contract_over_a_million")
    _shot(page, "policy-diff")

    other = _review_as_nora(browser, live_url)
    assert "required_approvals" in other.inner_text("#deployment-decisions")
    _shot(other, "policy-review")
    _approve(app, other)
    other.goto(f"{live_url}/policies")
    assert "seal administrators review from 500,000" in other.inner_text("#policy-version-2")
    other.close()


def test_the_modeler_speaks_the_pages_language(live_url: str, strict_page: Page):
    page = strict_page
    login(page, live_url, "sam")
    page.click("#language-switch")
    page.goto(f"{live_url}/flows/new")
    page.wait_for_selector("#status.ok")
    assert page.get_attribute(".djs-palette [data-action='hand-tool']", "aria-label") == "启动手动工具"
    assert "没有问题" in page.inner_text("#status")
    page.click(".djs-element[data-element-id=submitted]")  # the properties panel speaks it too
    assert page.inner_text("[data-group-id='group-general'] .bio-properties-panel-group-header-title") == "常规"
    assert page.inner_text(".bio-properties-panel-header-type").strip() == "开始事件"
    assert page.inner_text("[data-group-id='group-CamundaPlatform__Form'] .bio-properties-panel-group-header-title") \
        == "表单"
    _shot(page, "modeler-zh")


# DESIGN.md's story: a finance-director step for amounts above 1,000,000, inserted after the policy's approvals.
ADD_FINANCE_STEP = """() => {
  const modeler = window.sealflowModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const factory = modeler.get('bpmnFactory');
  const root = modeler.get('canvas').getRootElement();
  const stamp = registry.get('stamp_and_sign');
  const above = modeling.createShape({ type: 'bpmn:ExclusiveGateway' }, { x: stamp.x - 60, y: stamp.y + 240 }, root);
  const finance = modeling.createShape({ type: 'bpmn:UserTask' }, { x: stamp.x + 80, y: stamp.y + 240 }, root);
  const agreed = modeling.createShape({ type: 'bpmn:ExclusiveGateway' }, { x: stamp.x + 220, y: stamp.y + 240 }, root);
  modeling.updateProperties(above, { name: 'Above 1,000,000?' });
  modeling.updateProperties(finance, { name: 'Finance director' });
  modeling.updateProperties(agreed, { name: 'Finance agrees?' });
  modeling.reconnectEnd(registry.get('flow_to_stamp'), above, { x: above.x + 25, y: above.y });
  const big = modeling.connect(above, finance, { type: 'bpmn:SequenceFlow' });
  const small = modeling.connect(above, stamp, { type: 'bpmn:SequenceFlow' });
  modeling.connect(finance, agreed, { type: 'bpmn:SequenceFlow' });
  const no = modeling.connect(agreed, registry.get('rejected'), { type: 'bpmn:SequenceFlow' });
  const yes = modeling.connect(agreed, stamp, { type: 'bpmn:SequenceFlow' });
  const condition = (body) => factory.create('bpmn:FormalExpression', { body });
  const bigCondition = condition('(amount or 0) > 1000000');
  modeling.updateProperties(big, { name: 'above 1,000,000', conditionExpression: bigCondition });
  modeling.updateProperties(no, { name: 'reject', conditionExpression: condition('decision == "reject"') });
  modeling.updateProperties(above, { default: small.businessObject });
  modeling.updateProperties(agreed, { default: yes.businessObject });
  modeler.get('selection').select(finance);
  return finance.id;
}"""


def _instance(application_id: int):
    from app.models import ProcessInstance

    return db.session.execute(db.select(ProcessInstance).where(
        ProcessInstance.application_id == application_id)).scalar_one()


def _approve_every_step(application_id: int, deciders: list[str]) -> list[str]:
    """Each ready task of the application decided (approve) by the first of the deciders who may; their names."""
    from app.services import approvals
    from app.workflow import tasks_of

    done = []
    while True:
        db.session.expire_all()
        ready = [t for t in tasks_of(_instance(application_id).id) if t.state.value == "ready"]
        if not ready:
            return done
        task = ready[0]
        user = next(u for u in (accounts.find_user(name) for name in deciders) if approvals.can_decide(u, task))
        approvals.decide(task.id, user, "approve", "", Actor.of(user))
        db.session.commit()
        done.append(f"{task.name}: {user.username}")


def test_design_story_a_finance_director_step_above_a_million_is_version_two_and_running_ones_finish_on_one(
        app, live_url: str, strict_page: Page, browser, nora):
    from app.models import ApplicationStatus, SealApplication
    from tests.conftest import contract_pdf, file_application
    from tests.conftest import login as client_login

    accounts.save_user("fiona", "Fiona Finance Director", PASSWORD, {RoleName.APPROVER},
                      db.session.execute(db.select(Department).where(Department.name == "Office")).scalar_one())
    db.session.commit()
    client = app.test_client()
    client_login(client, "emma")
    seal_id = db.session.execute(db.select(Seal.id).where(Seal.name == "Contract Seal")).scalar_one()
    running = file_application(client, seal_id, contract_pdf(), amount="2000000")

    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows")
    page.click("#version-seal_application-1 >> text=Open")
    page.wait_for_selector("#status.ok")
    page.evaluate(ADD_FINANCE_STEP)
    page.wait_for_selector("#status.error")  # the new task names nobody yet
    page.click("[data-group-id='group-CamundaPlatform__UserAssignment'] .bio-properties-panel-group-header")
    page.fill("#bio-properties-panel-assignee", "fiona")
    page.wait_for_selector("#status.ok")
    _shot(page, "story-modeler")
    page.fill("#comment", "finance director for contracts above 1,000,000")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")
    page.click("#show-diff")
    page.wait_for_selector("#flow-diff[data-ready=true]")
    changes = page.inner_text("#diff-changes")
    assert "Finance director" in changes
    assert "targetRef: #ref:stamp_and_sign → #ref:Gateway_" in changes  # v1's target first, the request's after
    _shot(page, "story-diff")

    other = _review_as_nora(browser, live_url)
    _approve(app, other)
    other.goto(f"{live_url}/flows")
    assert "finance director for contracts above 1,000,000" in other.inner_text("#version-seal_application-2")
    other.close()

    filed_after = file_application(client, seal_id, contract_pdf(), amount="2000000")
    deciders = ["harry", "leo", "nora", "fiona"]
    assert _approve_every_step(running, deciders) == [
        "Approvals the seal policy requires: harry", "Approvals the seal policy requires: leo",
        "Approvals the seal policy requires: nora"]
    assert _approve_every_step(filed_after, deciders)[-1] == "Finance director: fiona"
    run_worker(app)
    db.session.expire_all()
    versions = {a: _instance(a).definition.version for a in (running, filed_after)}
    assert versions == {running: 1, filed_after: 2}
    assert {db.session.get(SealApplication, a).status for a in (running, filed_after)} == {ApplicationStatus.SEALED}


CORPUS_DIAGRAMS = sorted((Path(__file__).resolve().parents[1] / "data" / "corpus" / "bpmn").rglob("*.bpmn"))


@pytest.mark.parametrize("diagram", CORPUS_DIAGRAMS, ids=lambda p: p.name)
def test_reference_diagrams_and_camunda_modeler_exports_open_in_the_modeler_without_a_javascript_error(
        live_url: str, strict_page: Page, diagram: Path):
    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows/new")
    page.wait_for_selector("#status.ok")
    page.evaluate("() => { document.querySelector('#status').className = 'modeler-status'; }")
    page.set_input_files("#open-file", str(diagram))
    # Opened and checked: deployable, or its problems listed, or (bpmn-js cannot write it back) said so.
    page.wait_for_selector("#status.ok, #status.error")
    status = page.inner_text("#status")
    assert "problem" in status or "No problems" in status or "Could not check" in status, status
    assert page.locator(".djs-element").count() > 1


def _panel_group(page: Page, group: str) -> None:
    """Open a group of the properties panel (a click on a open one would close it)."""
    header = page.locator(f"[data-group-id='group-{group}'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def _type(page: Page, field: str, text: str) -> None:
    """Fill a properties-panel field and leave it: the panel writes the change when the field loses focus, which
    redraws the context pad (a click on the pad that caused the blur would land on the old one)."""
    page.fill(field, text)
    page.keyboard.press("Tab")


def test_draw_a_sealing_flow_with_its_filing_form_deploy_it_an_employee_files_on_it_and_it_is_sealed(
        app, live_url: str, strict_page: Page, browser, nora):
    """The whole workbench path in the browser: the palette, context pad, wrench, properties panel and element
    template chooser draw a flow whose start event asks for the counterparty; a second administrator approves its
    deployment; emma finds it on the filing page, fills in its field, the policy's approvers decide, it is sealed."""
    from app.models import ApplicationStatus, AuditEvent, SealApplication

    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows/new")
    page.wait_for_selector("#status.ok")
    page.click(".djs-container svg >> nth=0", position={"x": 600, "y": 400})  # the process itself
    _panel_group(page, "general")
    _type(page, "#bio-properties-panel-name", "Purchase contract")
    # The policy step: a user task, sequential over the levels the policy requires.
    page.click(".djs-element[data-element-id=submitted]")
    page.click(".djs-context-pad [data-action='append.append-task']")
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='replace-with-user-task']")
    _panel_group(page, "general")
    _type(page, "#bio-properties-panel-name", "Approvals the seal policy requires")
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='toggle-sequential-mi']")
    page.keyboard.press("Escape")
    # SealFlow's assignment rule as an extension property: the approver each level of the policy names.
    page.click("[data-group-id='group-CamundaPlatform__ExtensionProperties'] .bio-properties-panel-add-entry")
    _type(page, "[id$='-extensionProperty-0-name']", "assignee")
    _type(page, "[id$='-extensionProperty-0-value']", "policy")
    _panel_group(page, "multiInstance")
    _type(page, "#bio-properties-panel-collection", "${required_approvals}")
    _type(page, "#bio-properties-panel-elementVariable", "required_approval")
    _type(page, "#bio-properties-panel-completionCondition", '${decision != "approve"}')
    # Sealing: a service task from SealFlow's element templates.
    page.click(".djs-context-pad [data-action='append.append-task']")
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='replace-with-service-task']")
    _panel_group(page, "ElementTemplates__Template")
    page.click(".bio-properties-panel-select-template-button")
    page.click(".djs-popup .entry:has-text('Stamp and sign')")
    page.click(".djs-context-pad [data-action='append.end-event']")
    # The filing form: a required text field on the start event.
    page.click(".djs-element[data-element-id=submitted]")
    _panel_group(page, "CamundaPlatform__Form")
    page.select_option("#bio-properties-panel-formType", "formData")
    _panel_group(page, "CamundaPlatform__FormData")
    page.click("[data-group-id='group-CamundaPlatform__FormData'] .bio-properties-panel-add-entry")
    _type(page, "#bio-properties-panel-submitted-formField-0-formFieldID", "counterparty")
    _type(page, "#bio-properties-panel-submitted-formField-0-formFieldLabel", "Counterparty")
    page.select_option("#bio-properties-panel-submitted-formField-0-formFieldType", "string")
    page.click("[data-entry-id$='formFieldConstraints'] .bio-properties-panel-add-entry")
    _type(page, "[id$='formFieldConstraints-constraint-0-name']", "required")
    page.wait_for_selector("#status.ok")
    _shot(page, "modeler-sealing-flow")
    page.fill("#comment", "purchase contracts, with their counterparty")
    page.click("#deploy")
    page.wait_for_selector("#deployment-status")

    other = _review_as_nora(browser, live_url)
    _approve(app, other)
    other.close()

    employee = browser.new_page()
    login(employee, live_url, "emma")
    employee.click("text=New application")
    _shot(employee, "filing-chooser")
    employee.click("a:text-is('Purchase contract')")
    employee.select_option("#seal_id", label="Contract Seal")
    employee.set_input_files("#document", str(Path(__file__).resolve().parents[1] / "data" / "corpus" / "pdf"
                                              / "minimal-document.pdf"))
    employee.fill("#title", "Office chairs purchase")
    employee.fill("#reason", "Office chairs")
    employee.click("#submit")  # the counterparty is required: the browser keeps the form
    assert employee.locator("#counterparty:invalid").count() == 1
    employee.fill("#counterparty", "ACME Furniture Ltd")
    _shot(employee, "filing-form-with-process-fields")
    employee.click("#submit")
    assert "submitted" in employee.inner_text(".flash")
    employee.close()

    application = db.session.execute(db.select(SealApplication)).scalar_one()
    filed = db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "application.submitted")).scalar_one()
    assert filed.details["counterparty"] == "ACME Furniture Ltd"
    assert _approve_every_step(application.id, ["harry", "leo", "nora"])
    run_worker(app)
    db.session.expire_all()
    assert db.session.get(SealApplication, application.id).status == ApplicationStatus.SEALED


def test_an_approval_step_from_sealflows_templates_is_decided_by_the_rule_chosen(live_url: str, strict_page: Page):
    """The template chooser on a user task: SealFlow's approval step with its rule and decisions as dropdowns; the
    task needs no more to be valid, and the diagram carries the rule as the extension property SealFlow reads."""
    page = strict_page
    login(page, live_url, "sam")
    page.goto(f"{live_url}/flows/new")
    page.wait_for_selector("#status.ok")
    page.click(".djs-element[data-element-id=submitted]")
    page.click(".djs-context-pad [data-action='append.append-task']")
    page.click(".djs-context-pad [data-action='replace']")
    page.click(".djs-popup [data-id='replace-with-user-task']")
    page.click(".djs-context-pad [data-action='append.end-event']")
    page.wait_for_selector(".djs-element.sf-problem")  # a user task naming nobody
    page.click(".djs-element.sf-problem")
    _panel_group(page, "ElementTemplates__Template")
    page.click(".bio-properties-panel-select-template-button")
    page.click(".djs-popup .entry:has-text('Approval step')")
    _panel_group(page, "ElementTemplates__CustomProperties")
    page.select_option("[id='bio-properties-panel-custom-entry-sealflow.approval_step-0']", "role:leader")
    page.wait_for_selector("#status.ok")
    assert page.locator(".djs-element.sf-problem").count() == 0
    _shot(page, "modeler-approval-step-template")
    xml = page.evaluate("async () => (await window.sealflowModeler.saveXML()).xml")
    assert '<camunda:property name="assignee" value="role:leader" />' in xml
    assert '<camunda:property name="decisions" value="approve,reject,return" />' in xml


"""A process's filing form and audience, read from its diagram as Camunda Modeler writes them (app/workflow/filing.py),
and the values filed, checked against the form."""

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from app.workflow.filing import FieldError, Filing, FormField, read_filing, read_values
from app.workflow.parser import parse_xml

ROOT = Path(__file__).resolve().parents[2]
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


def _process(form: str = "", process_attributes: str = "", process_extensions: str = "") -> etree._Element:
    """A process as Camunda Modeler 5 saves one (camunda namespace on the root), with this start form."""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="{CAMUNDA}"
    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.23.0">
  <bpmn:process id="Process_purchase" name="Purchase contract" isExecutable="true" {process_attributes}>
    <bpmn:documentation>For purchases above the budget line.</bpmn:documentation>
    {process_extensions}
    <bpmn:startEvent id="StartEvent_1" name="Filed">
      <bpmn:extensionElements><camunda:formData>{form}</camunda:formData></bpmn:extensionElements>
    </bpmn:startEvent>
  </bpmn:process>
</bpmn:definitions>"""
    return parse_xml(xml.encode(), "purchase.bpmn").find("{*}process")


EVERY_TYPE = """
  <camunda:formField id="counterparty" label="Counterparty" type="string">
    <camunda:validation><camunda:constraint name="required" /><camunda:constraint name="maxlength" config="100" />
    </camunda:validation></camunda:formField>
  <camunda:formField id="copies" label="Copies" type="long" defaultValue="2">
    <camunda:validation><camunda:constraint name="min" config="1" /><camunda:constraint name="max" config="20" />
    </camunda:validation></camunda:formField>
  <camunda:formField id="urgent" label="Urgent" type="boolean" />
  <camunda:formField id="due" label="Needed by" type="date">
    <camunda:validation><camunda:constraint name="min" config="2026-01-01" /></camunda:validation></camunda:formField>
  <camunda:formField id="region" label="Region" type="enum">
    <camunda:value id="north" name="North" /><camunda:value id="south" name="South" /></camunda:formField>
  <camunda:formField id="witnesses" label="Witnesses" type="users">
    <camunda:validation><camunda:constraint name="minlength" config="1" />
      <camunda:constraint name="maxlength" config="3" />
    </camunda:validation></camunda:formField>
  <camunda:formField id="signers" label="Signers" type="parties">
    <camunda:validation><camunda:constraint name="minlength" config="2" /></camunda:validation></camunda:formField>
"""


def test_every_field_type_is_read_with_its_constraints():
    filing = read_filing(_process(EVERY_TYPE, 'camunda:candidateStarterGroups="Sales, Purchasing" '
                                              'camunda:candidateStarterUsers="emma"',
                                  '<bpmn:extensionElements><camunda:properties><camunda:property name="sealKinds" '
                                  'value="contract,company" /></camunda:properties></bpmn:extensionElements>'))
    assert filing.problems == ()
    assert filing.name == "Purchase contract" and filing.description == "For purchases above the budget line."
    assert filing.starter_groups == ("Sales", "Purchasing") and filing.starter_users == ("emma",)
    assert filing.seal_kinds == ("contract", "company") and filing.startable
    fields = {f.id: f for f in filing.fields}
    assert list(fields) == ["counterparty", "copies", "urgent", "due", "region", "witnesses", "signers"]
    assert fields["counterparty"] == FormField("counterparty", "Counterparty", "string", True, None, 100)
    assert (fields["copies"].minimum, fields["copies"].maximum, fields["copies"].default) == (1, 20, "2")
    assert fields["due"].minimum == date(2026, 1, 1)
    assert fields["region"].choices == (("north", "North"), ("south", "South"))
    assert (fields["witnesses"].minimum, fields["witnesses"].maximum) == (1, 3)


def test_a_process_kept_off_the_filing_page():
    assert not read_filing(_process(process_attributes='camunda:isStartableInTasklist="false"')).startable


@pytest.mark.parametrize("form, message", [
    ('<camunda:formField id="x" label="X" type="customType" />', "no type 'customType'; use one of string, long"),
    ('<camunda:formField id="amount" label="Amount" type="long" />', "'amount' is filled in by SealFlow itself"),
    ('<camunda:formField id="seal_id" label="Seal" type="long" />', "'seal_id' is filled in by SealFlow itself"),
    ('<camunda:formField id="2nd" label="Second" type="string" />', "its id must be a name"),
    ('<camunda:formField id="class" label="Class" type="string" />', "its id must be a name"),
    ('<camunda:formField id="x" type="string"><camunda:validation><camunda:constraint name="readonly" />'
     '</camunda:validation></camunda:formField>', "cannot be read-only"),
    ('<camunda:formField id="x" type="string"><camunda:validation><camunda:constraint name="validator" '
     'config="com.acme.Check" /></camunda:validation></camunda:formField>', "not 'validator'"),
    ('<camunda:formField id="x" type="long"><camunda:validation><camunda:constraint name="min" config="1e3" />'
     '</camunda:validation></camunda:formField>', "constraint min must be a whole number, not '1e3'"),
    ('<camunda:formField id="x" type="date"><camunda:validation><camunda:constraint name="max" config="soon" />'
     '</camunda:validation></camunda:formField>', "constraint max must be a date (YYYY-MM-DD)"),
    ('<camunda:formField id="x" type="long"><camunda:validation><camunda:constraint name="min" config="9" />'
     '<camunda:constraint name="max" config="3" /></camunda:validation></camunda:formField>',
     "its lower bound 9 is above its upper bound 3"),
    ('<camunda:formField id="x" type="string"><camunda:validation><camunda:constraint name="min" config="3" />'
     '</camunda:validation></camunda:formField>', "min and max bound a number or a date"),
    ('<camunda:formField id="x" type="enum" />', "an enum field lists its values"),
    ('<camunda:formField id="x" type="string"><camunda:value id="a" name="A" /></camunda:formField>',
     "only an enum field lists values"),
    ('<camunda:formField id="x" type="users" defaultValue="3" />', "a field choosing people has no default"),
    ('<camunda:formField id="x" type="string" /><camunda:formField id="x" type="long" />', "defined twice"),
])
def test_what_sealflow_cannot_ask_is_a_problem_naming_the_field(form: str, message: str):
    problems = read_filing(_process(form), "purchase.bpmn").problems
    assert len(problems) == 1 and message in problems[0].message, problems
    assert problems[0].file == "purchase.bpmn" and problems[0].line


def test_a_linked_form_is_a_problem_saying_what_to_write_instead():
    process = _process()
    process.find("{*}startEvent").set(f"{{{CAMUNDA}}}formKey", "embedded:app:forms/start.html")
    problems = read_filing(process).problems
    assert len(problems) == 1 and problems[0].element_id == "StartEvent_1"
    assert "form fields on the start event" in problems[0].message


FORM = read_filing(_process(EVERY_TYPE))


def _filled(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {"counterparty": " ACME Ltd ", "copies": "1,2", "urgent": "on", "due": "2026-03-01",
                                 "region": "south", "witnesses": ["7", "7", "9"], "signers": [("3", "1"), ("", ""),
                                                                                              ("4", "2")]}
    values.update(changes)
    return values


def test_filed_values_become_the_process_datas_types():
    assert read_values(FORM, _filled()) == {
        "counterparty": "ACME Ltd", "copies": 12, "urgent": True, "due": "2026-03-01", "region": "south",
        "witnesses": [7, 9], "signers": [(3, 1), (4, 2)]}
    # A field left out takes its default; an unticked box is False; an optional empty field is None.
    values = _filled(urgent="", region="")
    del values["copies"]
    read = read_values(FORM, values)
    assert (read["copies"], read["urgent"], read["region"]) == (2, False, None)
    assert read_values(FORM, _filled(signers=[{"user_id": 3, "seal_id": 1}, {"user_id": 4, "seal_id": 2}]))[
        "signers"] == [(3, 1), (4, 2)]


@pytest.mark.parametrize("changes, message", [
    ({"counterparty": "  "}, "“Counterparty” is required"),
    ({"counterparty": "x" * 101}, "“Counterparty”: give between 0 and 100 characters"),
    ({"copies": "0"}, "“Copies”: at least 1"),
    ({"copies": "21"}, "“Copies”: at most 20"),
    ({"copies": "1e9"}, "“Copies”: give a whole number"),
    ({"copies": "2.5"}, "“Copies”: give a whole number"),
    ({"copies": "99999999999999999999"}, "“Copies”: give a whole number"),
    ({"urgent": "perhaps"}, "“Urgent”: tick it or leave it"),
    ({"due": "01/03/2026"}, "“Needed by”: give a date as YYYY-MM-DD"),
    ({"due": "2025-12-31"}, "“Needed by”: at least 2026-01-01"),
    ({"region": "east"}, "“Region”: choose one of the listed values"),
    ({"witnesses": []}, "“Witnesses”: choose at least 1"),
    ({"witnesses": ["1", "2", "3", "4"]}, "“Witnesses”: choose at most 3"),
    ({"witnesses": ["emma"]}, "“Witnesses”: choose people from the list"),
    ({"signers": [("3", "1")]}, "“Signers”: choose at least 2"),
    ({"signers": [("3", "")]}, "“Signers”: choose both a person and a seal"),
    ({"signers": [("3", "1", "2")]}, "“Signers”: give each party as a person and a seal"),
    ({"signers": "3,1"}, "“Signers”: choose at least 2"),
    ({"extra": "x"}, "this form has no field 'extra'"),
])
def test_a_value_the_form_refuses_names_its_field(changes: dict[str, object], message: str):
    with pytest.raises(FieldError) as refused:
        read_values(FORM, _filled(**changes))
    assert message in str(refused.value)


def test_a_required_box_must_be_ticked():
    form = Filing("Consent", fields=(FormField("agreed", "I have read the contract", "boolean", required=True),))
    assert read_values(form, {"agreed": "true"}) == {"agreed": True}
    with pytest.raises(FieldError, match="must be ticked"):
        read_values(form, {"agreed": ""})


def test_the_shipped_processes_declare_their_forms():
    def filing(name: str) -> Filing:
        root = parse_xml((ROOT / "bpmn" / f"{name}.bpmn").read_bytes(), name)
        return read_filing(root.find("{*}process"))
    assert [(f.id, f.type, f.minimum) for f in filing("countersign").fields] == [("countersigners", "users", 1)]
    assert [(f.id, f.type, f.minimum) for f in filing("multi_party_signing").fields] == [("parties", "parties", 2)]
    assert filing("leader_signature").seal_kinds == ("personal", "legal_representative")
    assert filing("seal_application").fields == () and filing("seal_application").startable
    assert not filing("deployment_approval").startable

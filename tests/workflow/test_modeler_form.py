"""Diagrams handed to the browser modeler keep their multi-instance loops (bpmn-js drops a loopDataInputRef that
names a variable rather than an element)."""

from pathlib import Path

from lxml import etree

from app.workflow import for_modeler

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def _loops(data: bytes) -> list[etree._Element]:
    return list(etree.fromstring(data).iter("{*}multiInstanceLoopCharacteristics"))


def test_a_variable_collection_is_written_in_camundas_form():
    converted = for_modeler((BPMN / "seal_application.bpmn").read_bytes(), "seal_application.bpmn")
    [loop] = _loops(converted)
    assert loop.get(f"{CAMUNDA}collection") == "required_approvals"
    assert loop.get(f"{CAMUNDA}elementVariable") == "required_approval"
    assert loop.find("{*}loopDataInputRef") is None and loop.find("{*}inputDataItem") is None
    assert loop.findtext("{*}completionCondition") == 'decision != "approve"'


def test_a_diagram_without_such_loops_is_handed_over_unchanged():
    data = (BPMN / "deployment_approval.bpmn").read_bytes()
    assert for_modeler(data, "deployment_approval.bpmn") is data


def test_a_reference_to_a_real_data_element_is_left_as_bpmn_means_it():
    data = (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">'
            b'<bpmn:process id="p"><bpmn:dataObject id="items"/><bpmn:userTask id="t">'
            b'<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
            b'</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask></bpmn:process></bpmn:definitions>')
    assert for_modeler(data, "x.bpmn") is data

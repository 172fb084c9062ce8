"""A service task written as Camunda writes it from SealFlow's element templates (an external task whose topic is
the operator, its input parameters the operator's) runs the operator, and seals the document as the shipped form
does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.extensions import db
from app.models import ApplicationStatus, SealApplication
from app.models.audit import Actor
from app.services import flows
from app.workflow import operations_of
from tests.conftest import contract_pdf, file_and_approve, work_off_queue

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
_OPERATOR = re.compile(
    r"<spiffworkflow:serviceTaskOperator id=\"seal_document\".*?</spiffworkflow:serviceTaskOperator>", re.S)


def _external(parameter: str = "${application_id}") -> bytes:
    """seal_application with its sealing task as the modeler's "Stamp and sign" template writes it."""
    xml = SHIPPED.read_text().replace('xmlns:spiffworkflow=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
                                                                'xmlns:spiffworkflow=')
    xml = xml.replace('<bpmn:serviceTask id="stamp_and_sign" name="Stamp and sign the document">',
                      '<bpmn:serviceTask id="stamp_and_sign" name="Stamp and sign the document" '
                      'camunda:type="external" camunda:topic="seal_document" camunda:resultVariable="seal_result">')
    inputs = (f'<camunda:inputOutput><camunda:inputParameter name="application_id">{parameter}'
              '</camunda:inputParameter></camunda:inputOutput>')
    return _OPERATOR.sub(inputs, xml).encode()


def test_an_external_task_topic_names_the_operator_and_the_application_is_sealed(app, client, org):
    assert b"serviceTaskOperator" not in _external()
    assert flows.validate_diagram(_external(), "external.bpmn") == []
    definition, created = flows.deploy_diagram(_external(), "external.bpmn", Actor.system("test"))
    db.session.commit()
    assert created and definition.version == 2
    assert operations_of("seal_application") == {"seal_document"}

    application_id = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    db.session.expire_all()
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.SEALED


@pytest.mark.parametrize(("parameter", "said"), [
    ("${application_id + 1}", "write ${variable} or ${variable.key}"),
    ("#{application_id}", "write ${variable} or ${variable.key}"),
    ("<camunda:list><camunda:value>1</camunda:value></camunda:list>", "is a list"),
])
def test_a_parameter_sealflow_cannot_read_is_refused_naming_the_task(app, parameter, said):
    problems = flows.validate_diagram(_external(parameter), "external.bpmn")
    assert any(p.element_id == "stamp_and_sign" and said in p.message for p in problems), problems


def test_a_plain_text_parameter_is_a_string_and_an_unknown_topic_is_an_unknown_operator(app):
    text = _external("42")  # Camunda passes plain text as a string: the sealing job then refuses another application
    assert flows.validate_diagram(text, "external.bpmn") == []
    unknown = _external().replace(b'camunda:topic="seal_document"', b'camunda:topic="format_disk"')
    problems = flows.validate_diagram(unknown, "external.bpmn")
    assert any(p.element_id == "stamp_and_sign" and "format_disk" in p.message for p in problems)

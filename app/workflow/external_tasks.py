"""Camunda's way of naming a SealFlow operator: an external service task (`camunda:type="external"`) whose topic is
the operator and whose `camunda:inputOutput` input parameters are its parameters. The modeler's element templates
write service tasks so; SealFlow reads them as the spiffworkflow:serviceTaskOperator its engine runs."""

from __future__ import annotations

import re

from lxml import etree

from app.workflow.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# `${variable}` or `${variable.key}`: the JUEL forms a parameter may take (a value from the process data).
_DATA = re.compile(r"^\$\{\s*([A-Za-z][A-Za-z0-9_]*)(?:\.([A-Za-z][A-Za-z0-9_]*))?\s*\}$")


def _parameter(node: etree._Element) -> tuple[str | None, str | None]:
    """The Python expression of one input parameter, or why it has none."""
    name = node.get("name") or ""
    if len(node):
        return None, (f"input parameter {name!r} is a {etree.QName(node[0]).localname}; SealFlow's operators take "
                      "text, ${variable} or ${variable.key}")
    text = (node.text or "").strip()
    found = _DATA.match(text)
    if found:
        variable, key = found.groups()
        return (f'{variable}["{key}"]' if key else variable), None
    if "${" in text or "#{" in text:
        return None, f"input parameter {name!r} is {text!r}: write ${{variable}} or ${{variable.key}}, or plain text"
    return repr(text), None


def read_external_tasks(root: etree._Element, source: str) -> list[Problem]:
    """Give every external service task the spiffworkflow:serviceTaskOperator it means (in place); the problems of
    those that cannot be read."""
    problems = []
    for task in root.iter(f"{{{BPMN_NS}}}serviceTask", f"{{{BPMN_NS}}}sendTask"):
        topic = (task.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
        if not topic or next(task.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"), None) is not None:
            continue
        extensions = task.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:
            extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            task.insert(0, extensions)
        result = task.get(f"{{{CAMUNDA_NS}}}resultVariable") or f"{task.get('id', 'task')}_result"
        operator = etree.SubElement(extensions, f"{{{SPIFF_NS}}}serviceTaskOperator", id=topic, resultVariable=result)
        parameters = etree.SubElement(operator, f"{{{SPIFF_NS}}}parameters")
        for node in extensions.iterfind(f"{{{CAMUNDA_NS}}}inputOutput/{{{CAMUNDA_NS}}}inputParameter"):
            value, problem = _parameter(node)
            if problem is not None:
                problems.append(Problem(problem, task.get("id", ""), task.get("name", ""), source, node.sourceline))
            else:
                etree.SubElement(parameters, f"{{{SPIFF_NS}}}parameter", id=node.get("name") or "", type="any",
                                 value=value or "")
    return problems

"""What would let a process seal without the approvals the seal policy requires: the policy step's shape, diagrams
writing the policy step's data, and paths from the start to a sealing task that skip the policy step."""

from __future__ import annotations

from lxml import etree

from app.workflow import camunda
from app.workflow.errors import Problem
from app.workflow.validation import CAMUNDA_NS, FLOW_NODES, NS, task_property

POLICY_STEP_SHAPE = ("the policy step (assignee policy) must be a sequential multi-instance over "
                     "required_approvals, its item named required_approval, ending early (if at all) only on a "
                     "decision other than approve: completionCondition decision != \"approve\"")
# The process data the policy step reads: nothing in a diagram may write it (SealFlow sets it at filing).
POLICY_DATA = ("required_approvals", "required_approval")
_STOPS_ON_REFUSAL = 'decision != "approve"'


def _stops_only_on_refusal(loop: etree._Element) -> bool:
    condition = loop.findtext("bpmn:completionCondition", None, NS)
    return condition is None or " ".join(condition.replace("'", '"').split()) == _STOPS_ON_REFUSAL


def _is_policy_step(node: etree._Element) -> bool:
    return etree.QName(node).localname == "userTask" and task_property(node, "assignee") == "policy"


def _loop_items(loop: etree._Element) -> tuple[str, str]:
    """The collection a multi-instance loops over and the name of its item: BPMN's loopDataInputRef and
    inputDataItem, or Camunda's camunda:collection and camunda:elementVariable."""
    collection = loop.get(f"{{{CAMUNDA_NS}}}collection")
    if collection is not None:
        return camunda.collection_variable(collection) or "", loop.get(f"{{{CAMUNDA_NS}}}elementVariable") or ""
    item = loop.find("bpmn:inputDataItem", NS)
    name = (item.get("name") or item.get("id") or "") if item is not None else ""
    return (loop.findtext("bpmn:loopDataInputRef", "", NS) or "").strip(), name


def _policy_step_problems(process: etree._Element, source: str) -> list[Problem]:
    """The policy step asks each required level in turn: its shape is fixed."""
    problems = []
    for task in (t for t in process.iterfind(".//bpmn:userTask", NS) if _is_policy_step(t)):
        loop = task.find("bpmn:multiInstanceLoopCharacteristics", NS)
        if (loop is None or loop.get("isSequential") != "true" or _loop_items(loop) != POLICY_DATA
                or not _stops_only_on_refusal(loop)):
            problems.append(Problem.at(task, source, POLICY_STEP_SHAPE))
    return problems


def _writes(node: etree._Element) -> set[str]:
    """The process variables an element may write or bring in: data objects and inputs/outputs by id or name,
    multi-instance items and output collections, a service task's result variable."""
    kind = etree.QName(node).localname
    names: set[str] = set()
    if kind in ("dataObject", "dataObjectReference", "dataInput", "dataOutput", "dataStoreReference",
                "outputDataItem", "inputDataItem"):
        names |= {node.get("id") or "", node.get("name") or ""}
    elif kind == "loopDataOutputRef":
        names.add((node.text or "").strip())
    elif kind == "serviceTaskOperator":
        names.add(node.get("resultVariable") or "")
    elif kind == "multiInstanceLoopCharacteristics":  # Camunda's element variable (its collection is only read)
        names.add(node.get(f"{{{CAMUNDA_NS}}}elementVariable") or "")
    return names


def _policy_data_problems(process: etree._Element, source: str) -> list[Problem]:
    """Nothing but SealFlow's filing sets what the policy step asks: a diagram writing it could empty the levels."""
    problems = []
    # Kept as a list: lxml reuses an element's proxy only while one is alive, so `is` compares them.
    policy_items = [i for t in process.iterfind(".//bpmn:userTask", NS) if _is_policy_step(t)
                    for loop in t.iterfind("bpmn:multiInstanceLoopCharacteristics", NS)
                    for i in (loop, *loop.iterfind("bpmn:inputDataItem", NS))]
    for node in process.iter():
        if not isinstance(node.tag, str) or any(node is item for item in policy_items):
            continue
        written = _writes(node) & set(POLICY_DATA)
        if written:
            problems.append(Problem.at(_owner_of(node), source, f"{', '.join(sorted(written))} is the policy step's "
                                                              "data, set when the application is filed; a diagram "
                                                              "may not write it"))
    return problems


def _owner_of(node: etree._Element) -> etree._Element:
    """The nearest element with an id (a problem names it)."""
    while node.get("id") is None and node.getparent() is not None:
        node = node.getparent()
    return node


def _flow_graph(root: etree._Element) -> tuple[dict[str, set[str]], dict[str, etree._Element]]:
    """Every way a token can move: sequence flows; into a subprocess or called process (its start events) and out
    of it (its end events, then its outgoing flows, through a virtual `<id>#exit` node); to the boundary events of
    an activity while it runs; to the event subprocesses of a container while it runs."""
    nodes = {n.get("id", ""): n for kind in FLOW_NODES for n in root.iterfind(f".//bpmn:{kind}", NS)}
    edges: dict[str, set[str]] = {}
    processes = {p.get("id"): p for p in root.iterfind("bpmn:process", NS)}

    def link(a: str, b: str) -> None:
        edges.setdefault(a, set()).add(b)

    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        source = flow.get("sourceRef", "")
        exit_node = f"{source}#exit" if source in nodes and _is_container(nodes[source]) else source
        link(exit_node, flow.get("targetRef", ""))
    for node_id, node in nodes.items():
        if node.get("attachedToRef"):
            link(node.get("attachedToRef", ""), node_id)
        container = processes.get(node.get("calledElement")) if etree.QName(node).localname == "callActivity" else (
            node if etree.QName(node).localname in _SUBPROCESSES else None)
        if container is not None:
            for child in container:
                kind = etree.QName(child).localname if isinstance(child.tag, str) else ""
                if kind == "startEvent" or kind in _SUBPROCESSES and child.get("triggeredByEvent") == "true":
                    link(node_id, child.get("id", ""))
                elif kind == "endEvent":
                    link(child.get("id", ""), f"{node_id}#exit")
    return edges, nodes


_SUBPROCESSES = ("subProcess", "transaction")


def _is_container(node: etree._Element) -> bool:
    return etree.QName(node).localname in (*_SUBPROCESSES, "callActivity")


def _bypass_problems(root: etree._Element, process: etree._Element, source: str,
                     operators: frozenset[str]) -> list[Problem]:
    """A sealing service task that a token can reach from the start without passing the policy step: the flow would
    seal without the approvals the seal policy requires (the sealing gate would refuse it then; say it now)."""
    edges, nodes = _flow_graph(root)
    starts = [c.get("id", "") for c in process if isinstance(c.tag, str) and (
        etree.QName(c).localname == "startEvent"
        or etree.QName(c).localname == "subProcess" and c.get("triggeredByEvent") == "true")]
    seen, queue = set(starts), list(starts)
    while queue:
        current = queue.pop()
        targets = edges.get(current, set())
        if current in nodes and _is_policy_step(nodes[current]):
            # Beyond the policy step every path has passed it; its boundary events can fire before it is done.
            targets = {t for t in targets if t in nodes and nodes[t].get("attachedToRef") == current}
        for target in targets:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    problems = []
    for node_id in sorted(seen):
        node = nodes.get(node_id)
        operator = next(node.iter("{*}serviceTaskOperator"), None) if node is not None else None
        if node is not None and etree.QName(node).localname == "serviceTask" and operator is not None \
                and operator.get("id") in operators:
            problems.append(Problem.at(node, source, "a path from the start reaches this sealing task without passing "
                                                   "the policy step (a user task with assignee policy): a flow may "
                                                   "add approvals, never skip the seal policy's"))
    return problems


def control_problems(root: etree._Element, source: str, operators: frozenset[str],
                     processes: list[etree._Element]) -> list[Problem]:
    """What would let the process that runs (the first of `processes`; the others are those it calls in the file)
    seal without the approvals the seal policy requires."""
    problems: list[Problem] = []
    for index, process in enumerate(processes):
        problems += _policy_step_problems(process, source)
        problems += _policy_data_problems(process, source)
        if index == 0:  # its paths go on into the processes it calls
            problems += _bypass_problems(root, process, source, operators)
    return problems

"""The path a process instance took on its diagram, read from its stored SpiffWorkflow task tree: which elements it
went through (and how often: a returned application loops), which sequence flows it took, what it waits on, and the
process data after each element. Every tree node carries its last state change, so the path can also be cut at any
moment: the state after any step of the history, for a replay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.workflow.safe_xml import parse_untrusted

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

# SpiffWorkflow's TaskState values (SpiffWorkflow.util.task.TaskState), as stored in a serialized tree.
_WAITING, _READY, _STARTED, _COMPLETED, _ERROR, _CANCELLED = 8, 16, 32, 64, 128, 256
_REACHED = {_WAITING, _READY, _STARTED, _COMPLETED, _ERROR}
_MULTI_INSTANCE_CHILD = " [child]"


@dataclass(frozen=True)
class Visit:
    """One pass through a diagram element: when it was reached and finished (epoch seconds, None while it waits)."""

    element_id: str
    reached_at: float
    done_at: float | None
    failed: bool


@dataclass(frozen=True)
class Taken:
    """A sequence flow taken, and when."""

    flow_id: str
    at: float


@dataclass(frozen=True)
class Moment:
    """The path up to a moment: passes per element finished, flows taken (with counts), the elements waiting or
    failed."""

    done: dict[str, int]
    flows: dict[str, int]
    waiting: list[str]
    failed: list[str]


@dataclass(frozen=True)
class Path:
    visits: list[Visit]
    taken: list[Taken]

    def at(self, moment: float | None = None) -> Moment:
        """The path as it stood at `moment` (epoch seconds; None: now)."""
        end = float("inf") if moment is None else moment
        done = Counter(v.element_id for v in self.visits if v.done_at is not None and v.done_at <= end)
        waiting = sorted({v.element_id for v in self.visits if v.reached_at <= end and not v.failed
                          and (v.done_at is None or v.done_at > end)})
        failed = sorted({v.element_id for v in self.visits if v.failed and v.reached_at <= end})
        flows = Counter(t.flow_id for t in self.taken if t.at <= end)
        return Moment(dict(done), dict(flows), waiting, failed)


@dataclass(frozen=True)
class _Diagram:
    elements: set[str]
    flows: dict[tuple[str, str], str]


def _diagram(xml: bytes) -> _Diagram:
    root = parse_untrusted(xml, "the process's diagram")
    elements = {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(BPMN)
                and e.get("id") and e.tag != f"{BPMN}sequenceFlow"}
    flows = {(f.get("sourceRef", ""), f.get("targetRef", "")): f.get("id", "")
             for f in root.iter(f"{BPMN}sequenceFlow")}
    return _Diagram({e for e in elements if e}, flows)


def _trees(state: dict[str, Any]) -> Iterable[dict[str, dict[str, Any]]]:
    yield state.get("tasks", {})
    for subprocess in (state.get("subprocesses") or {}).values():
        yield subprocess.get("tasks", {})


def _element(spec_name: str, diagram: _Diagram) -> str | None:
    name = spec_name.removesuffix(_MULTI_INSTANCE_CHILD)
    return name if name in diagram.elements and not spec_name.endswith(_MULTI_INSTANCE_CHILD) else None


def path_of(state: dict[str, Any], xml: bytes, started_at: float) -> Path:
    """The path recorded in a stored workflow state (what app.workflow.serializer saves) on the diagram it ran.
    `started_at`: when the instance started, the moment its first element was reached."""
    diagram = _diagram(xml)
    visits: list[Visit] = []
    taken: list[Taken] = []
    for tasks in _trees(state):
        for task in tasks.values():
            element = _element(task.get("task_spec", ""), diagram)
            if element is None or task.get("state") not in _REACHED:
                continue
            parent = tasks.get(task.get("parent") or "")
            parent_done = parent is not None and parent.get("state") == _COMPLETED
            reached = float(parent["last_state_change"]) if parent_done and parent else started_at
            completed = task["state"] == _COMPLETED
            visits.append(Visit(element, reached, float(task["last_state_change"]) if completed else None,
                                task["state"] == _ERROR))
            source = _element(parent.get("task_spec", ""), diagram) if parent else None
            if parent_done and source is not None and (source, element) in diagram.flows:
                taken.append(Taken(diagram.flows[(source, element)], reached))
    visits.sort(key=lambda v: (v.reached_at, v.done_at or float("inf")))
    return Path(visits, sorted(taken, key=lambda t: t.at))



BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"


@dataclass(frozen=True)
class Shape:
    """A diagram element as drawn: its id, BPMN kind (the tag's local name: userTask, exclusiveGateway …), name and
    bounds (x, y, width, height, y downwards as in the diagram)."""

    element_id: str
    kind: str
    name: str
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class Edge:
    flow_id: str
    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    shapes: list[Shape]
    edges: list[Edge]


def layout(xml: bytes) -> Layout:
    """The diagram's drawing (BPMN DI): shapes and edges of its first plane, each with its element's kind and name.
    A diagram without DI has an empty layout."""
    root = parse_untrusted(xml, "the process's diagram")
    elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(BPMN)}
    plane = next(root.iter(f"{BPMNDI}BPMNPlane"), None)
    shapes, edges = [], []
    for item in plane if plane is not None else ():
        element = elements.get(item.get("bpmnElement"))
        if element is None:
            continue
        kind, name = element.tag.removeprefix(BPMN), element.get("name") or ""
        if item.tag == f"{BPMNDI}BPMNShape" and (box := item.find(f"{DC}Bounds")) is not None:
            shapes.append(Shape(element.get("id", ""), kind, name, tuple(  # type: ignore[arg-type]
                float(box.get(k, "0")) for k in ("x", "y", "width", "height"))))
        elif item.tag == f"{BPMNDI}BPMNEdge":
            points = tuple((float(p.get("x", "0")), float(p.get("y", "0"))) for p in item.iter(f"{DI}waypoint"))
            edges.append(Edge(element.get("id", ""), name, points))
    return Layout(shapes, edges)

"""Call activities: which process of a file is the one that runs, and where the processes it calls come from.

A file holds one process that runs (executable, and called by no other process of the file); the processes it calls
are drawn in the same file (executable too), or deployed already: a deployment includes the called process's spec
as it stands then (its newest version, or the version camunda:calledElementVersion names), so a running application
never changes under it. Deploy the caller again to take a newer version of the called process.

SealFlow passes all the process data to the called process and takes all of its data back, which is what Camunda
does with `camunda:in variables="all"` and `camunda:out variables="all"`; other mappings are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from app.workflow.errors import Problem
from app.workflow.validation import CAMUNDA_NS, NS


@dataclass(frozen=True)
class DeployedProcess:
    """A deployed version of a process that a diagram may call: its stored spec (the process and the processes it
    calls, as the serializer writes them)."""

    process_id: str
    version: int
    content_hash: str
    spec: dict[str, Any]


# Looks up a deployed process by id, and version (None: the newest).
FindDeployed = Callable[[str, "int | None"], "DeployedProcess | None"]


def _is_executable(process: etree._Element) -> bool:
    return process.get("isExecutable", "true") != "false"


def _called(process: etree._Element) -> list[etree._Element]:
    return list(process.iterfind(".//bpmn:callActivity", NS))


@dataclass
class Processes:
    """The processes of a file: the one that runs, those it calls in the file (transitively), those it calls that are
    deployed already, and what is wrong with its calls."""

    main: etree._Element | None
    in_file: list[etree._Element] = field(default_factory=list)
    deployed: dict[str, DeployedProcess] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def runnable(self) -> list[etree._Element]:
        """The processes whose elements run: the main one and those it calls in the file."""
        return ([self.main] if self.main is not None else []) + self.in_file


def main_process(root: etree._Element) -> tuple[etree._Element | None, int]:
    """The process of the file that runs (executable, called by no other process of the file), and how many such
    there are (only one may be)."""
    processes = list(root.iterfind("bpmn:process", NS))
    called = {call.get("calledElement") for p in processes for call in _called(p)
              if call.get("calledElement") != p.get("id")}  # a process calling itself is refused on its own
    candidates = [p for p in processes if _is_executable(p) and p.get("id") not in called]
    return (candidates[0] if len(candidates) == 1 else None), len(candidates)


def _binding_problem(call: etree._Element) -> str | None:
    binding = call.get(f"{{{CAMUNDA_NS}}}calledElementBinding", "latest")
    if binding not in ("latest", "deployment", "version"):
        return (f"camunda:calledElementBinding {binding!r} is not supported: SealFlow calls the newest version "
                "(latest), the one in this file (deployment), or a version number (version)")
    version = call.get(f"{{{CAMUNDA_NS}}}calledElementVersion", "")
    if binding == "version" and not version.isdigit():
        return f"camunda:calledElementVersion {version!r} must be a version number, e.g. 2"
    return None


def _mapping_problem(call: etree._Element) -> str | None:
    """SealFlow passes all the data in and out: only Camunda's `variables="all"` (and a business key, which SealFlow
    has no use for) says the same."""
    for mapping in call.iterfind("bpmn:extensionElements/*", NS):
        if etree.QName(mapping).namespace != CAMUNDA_NS or etree.QName(mapping).localname not in ("in", "out"):
            continue
        if mapping.get("variables") == "all" or (mapping.get("businessKey") is not None and len(mapping.attrib) == 1):
            continue
        return (f"camunda:{etree.QName(mapping).localname} maps single variables, and SealFlow passes all the process "
                'data to the called process and back: use camunda:in variables="all" and camunda:out '
                'variables="all", or no mapping')
    return None


def _call_problem(call: etree._Element, processes: dict[str, etree._Element], find: FindDeployed | None,
                  found: Processes) -> str | None:
    """What is wrong with one call activity, or None; the process it calls is added to `found`."""
    called = (call.get("calledElement") or "").strip()
    if not called:
        return "a call activity names the process it calls (calledElement)"
    if "${" in called or "#{" in called:
        return f"calledElement {called!r} is an expression; name the process to call by its id"
    problem = _binding_problem(call) or _mapping_problem(call)
    if problem is not None:
        return problem
    if called in processes:
        if not _is_executable(processes[called]):
            return f"calls process {called!r}, which this file marks as not executable (isExecutable=\"false\")"
        return None
    if call.get(f"{{{CAMUNDA_NS}}}calledElementBinding") == "deployment":
        return f"calls process {called!r} of the same deployment, which is not in this file"
    version = call.get(f"{{{CAMUNDA_NS}}}calledElementVersion")
    deployed = find(called, int(version) if version and version.isdigit() else None) if find else None
    if deployed is None:
        which = f"version {version} of process" if version else "process"
        return (f"calls {which} {called!r}, which is neither in this file nor deployed: deploy it first, or draw it "
                "in this file")
    found.deployed[called] = deployed
    return None


def find_processes(root: etree._Element, source: str, find: FindDeployed | None) -> Processes:
    """The file's main process, the processes it calls (in the file, or deployed: `find` looks those up), and what
    is wrong with its calls. A process calling itself, directly or not, is refused."""
    main, count = main_process(root)
    found = Processes(main)
    if main is None:
        return found
    processes = {p.get("id") or "": p for p in root.iterfind("bpmn:process", NS)}
    queue, seen = [main], {main.get("id")}
    while queue:
        process = queue.pop(0)
        for call in _called(process):
            problem = _call_problem(call, processes, find, found)
            if problem is not None:
                found.problems.append(Problem.at(call, source, problem))
                continue
            called = (call.get("calledElement") or "").strip()
            if called in processes and called not in seen:
                seen.add(called)
                found.in_file.append(processes[called])
                queue.append(processes[called])
    found.problems += _cycle_problems(found, source)
    return found


def _cycle_problems(found: Processes, source: str) -> list[Problem]:
    """Calls that lead back to a process already running (it would call itself without end)."""
    runnable = {p.get("id"): p for p in found.runnable}
    problems = []
    for process in found.runnable:
        reachable, stack = set(), [process.get("id")]
        while stack:
            current = runnable.get(stack.pop())
            for call in _called(current) if current is not None else []:
                target = call.get("calledElement")
                if target == process.get("id"):
                    problems.append(Problem.at(call, source, f"calls process {target!r}, which is running already "
                                                             "when this call is made: it would call itself "
                                                             "without end"))
                elif target in runnable and target not in reachable:
                    reachable.add(target)
                    stack.append(target)
    return problems

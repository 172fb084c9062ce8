"""Process diagrams: the shipped ones in bpmn/ and those seal administrators draw, validated, described and
deployed with the same code whether they come from a file, the CLI or the modeler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from app.errors import NotFound
from app.extensions import db
from app.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.models.audit import Actor
from app.services import decision_tables, operators  # modules: both reach back here
from app.workflow import ParsedDefinition, Problem, deploy, for_modeler, inspect, lint, validate

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "bpmn"


def policies() -> dict[str, bytes]:
    """The decision tables in force (DMN, by file name) that diagrams' business-rule tasks may call."""
    return decision_tables.in_force()


def validate_diagram(data: bytes, source: str, tables: dict[str, bytes] | None = None) -> list[Problem]:
    """Every problem that would stop the diagram from deploying (with the tables in force, or those given); empty
    when it would deploy."""
    return validate(data, source, operators.OPERATORS.keys(), policies() if tables is None else tables,
                    operators.SEALING_OPERATORS)


def diagram_warnings(data: bytes, source: str) -> list[Problem]:
    """What may go wrong at run time though the diagram deploys: deciding tasks that could reach the requester."""
    return lint(data, source)


def inspect_diagram(data: bytes, source: str) -> ParsedDefinition:
    """The process a diagram holds, as a deployment would store it; InvalidDefinition lists every problem."""
    return inspect(data, source, operators.OPERATORS.keys(), policies(), operators.SEALING_OPERATORS)


def deploy_diagram(data: bytes, source: str, actor: Actor, keep_any_version: bool = False, comment: str = "",
                   deployed_by_id: int | None = None, approved_by_id: int | None = None
                   ) -> tuple[ProcessDefinition, bool]:
    """Deploy one diagram as its process's newest version (an earlier version's content too: a rollback);
    (definition, whether a new version was created). See engine.deploy for keep_any_version."""
    return deploy(data, source, operators.OPERATORS.keys(), policies(), actor, keep_any_version,
                  operators.SEALING_OPERATORS,
                  comment, deployed_by_id, approved_by_id)


def deploy_file(path: Path, actor: Actor, keep_any_version: bool = False) -> tuple[ProcessDefinition, bool]:
    """Deploy one BPMN file (the CLI's way, with no second seal administrator: shell access to the server is
    beyond the pages' roles)."""
    return deploy_diagram(path.read_bytes(), path.name, actor, keep_any_version)


def validate_file(path: Path) -> list[Problem]:
    """Every problem that would stop the file from deploying; empty when it would deploy."""
    return validate_diagram(path.read_bytes(), path.name)


def deploy_shipped(actor: Actor) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy the shipped decision tables, then every diagram in bpmn/, whose content no version has yet
    (idempotent, and it never replaces a newer version an administrator deployed with the shipped one again)."""
    decision_tables.deploy_shipped(actor)
    return [deploy_file(path, actor, keep_any_version=True) for path in sorted(SHIPPED_DIR.glob("*.bpmn"))]


def modeler_xml(xml: str, source: str) -> str:
    """The diagram as the browser modeler keeps it whole (multi-instance collections in Camunda's form)."""
    return for_modeler(xml.encode(), source).decode()


@dataclass(frozen=True)
class VersionRow:
    definition: ProcessDefinition
    running: int  # instances still running on it
    total: int  # every instance started on it


@dataclass(frozen=True)
class ProcessRow:
    process_id: str
    name: str
    versions: list[VersionRow]  # newest first

    @property
    def newest(self) -> ProcessDefinition:
        return self.versions[0].definition


def list_processes() -> list[ProcessRow]:
    """Every deployed process with its versions, newest first, and how many instances each version has."""
    counts: dict[tuple[int, InstanceStatus], int] = {(definition_id, status): n for definition_id, status, n in
                                                      db.session.execute(
        select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
        .group_by(ProcessInstance.definition_id, ProcessInstance.status))}
    definitions = db.session.execute(select(ProcessDefinition).order_by(
        ProcessDefinition.process_id, ProcessDefinition.version.desc())).scalars()
    rows: dict[str, ProcessRow] = {}
    for definition in definitions:
        total = sum(n for (d, _), n in counts.items() if d == definition.id)
        version = VersionRow(definition, counts.get((definition.id, InstanceStatus.RUNNING), 0), total)
        row = rows.setdefault(definition.process_id, ProcessRow(definition.process_id, definition.name, []))
        row.versions.append(version)
    return sorted(rows.values(), key=lambda r: r.name.lower())


def get_version(process_id: str, version: int) -> ProcessDefinition:
    """One deployed version of a process."""
    found = db.session.execute(select(ProcessDefinition).where(
        ProcessDefinition.process_id == process_id, ProcessDefinition.version == version)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"process {process_id!r} has no version {version}")
    return found

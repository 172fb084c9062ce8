"""The seal policies' decision tables (DMN), versioned: the newest version of each file is in force for filing and
for diagrams deployed after it. seal_policies/ ships the first versions; seal administrators change them in the
browser under dual control (services/deployments.py), like diagrams."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import PolicyVersion, ProcessDefinition
from app.models.audit import Actor, record
from app.services import flows  # a module: flows reads the tables in force from here
from app.workflow import (
    InvalidDefinition,
    Problem,
    TableRule,
    TableView,
    approver_problem,
    called_decisions,
    defined_decisions,
    literal_outputs,
    table_problems,
    table_view,
)

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "seal_policies"
# The table filing asks (services/policy.py), and the outputs it reads.
REQUIRED_APPROVALS = "required_approvals"
REQUIRED_OUTPUTS = ("approver", "label")


def shipped() -> dict[str, bytes]:
    """The decision tables seal_policies/ ships, by file name."""
    return {path.name: path.read_bytes() for path in sorted(SHIPPED_DIR.glob("*.dmn"))}


def _newest() -> dict[str, PolicyVersion]:
    newest: dict[str, PolicyVersion] = {}
    for version in db.session.execute(select(PolicyVersion).order_by(PolicyVersion.name, PolicyVersion.version)
                                      ).scalars():
        newest[version.name] = version
    return newest


def in_force() -> dict[str, bytes]:
    """The tables in force, by file name: each file's newest deployed version (a shipped file never deployed, as
    shipped: a database not yet seeded still has its policy)."""
    files = shipped()
    files.update({name: version.content.encode() for name, version in _newest().items()})
    return files


def _decisions_in_force() -> dict[str, list[str]]:
    """The ids of the decisions each table in force defines, by file name."""
    newest = _newest()
    found = {name: defined_decisions(data, name) for name, data in shipped().items() if name not in newest}
    found.update({name: [version.decision_id] for name, version in newest.items()})
    return found


def defined_elsewhere(decision_id: str, name: str) -> list[str]:
    """The tables in force, other than this one, that define the decision: file names."""
    return sorted(other for other, ids in _decisions_in_force().items() if other != name and decision_id in ids)


@dataclass(frozen=True)
class DefinedDecision:
    """A decision a table defines: the tables in force that define it now (the one it would replace), and the
    processes whose newest version calls it (deployed again with it)."""

    decision_id: str
    defined_by: tuple[str, ...]
    called_by: tuple[str, ...]


def decisions_of(data: bytes, name: str) -> list[DefinedDecision]:
    """The decisions a table defines, each with the tables in force defining it now and the processes calling it."""
    in_force = _decisions_in_force()
    return [DefinedDecision(decision_id, tuple(sorted(n for n, ids in in_force.items() if decision_id in ids)),
                            tuple(d.process_id for d in used_by(decision_id)))
            for decision_id in defined_decisions(data, name)]


def valid_name(name: str) -> str:
    """A table's file name as stored: a plain name ending in .dmn."""
    cleaned = Path(name.strip()).name
    if not cleaned or cleaned != name.strip() or not cleaned.endswith(".dmn") or len(cleaned) > 200:
        raise InvalidDefinition([Problem("a decision table's file name is a plain name ending in .dmn", file=name)])
    return cleaned


def _required_approvals_problems(data: bytes, name: str) -> list[Problem]:
    """The filing table's own needs: its approver and label outputs, and approvers SealFlow can resolve."""
    problems = [Problem(f"the {REQUIRED_APPROVALS} table needs an output named {output!r}", REQUIRED_APPROVALS,
                        file=name) for output in REQUIRED_OUTPUTS if literal_outputs(data, name, output) is None]
    for rule, value in literal_outputs(data, name, "approver") or []:
        reason = approver_problem(value) if isinstance(value, str) else f"{value!r} is not text"
        if reason is not None:
            problems.append(Problem(f"approver {value!r}: {reason}", rule.get("id", ""), file=name,
                                    line=rule.sourceline))
    return problems


def validate_table(data: bytes, name: str) -> list[Problem]:
    """Every problem that keeps the table from being deployed: its own (DMN, hit policy, every cell vetted like
    diagram expressions), the filing table's needs, a decision id another table in force defines, a changed
    decision id that processes still call, and every problem the newest version of a process calling it would have
    with it."""
    name = valid_name(name)
    decision_id, problems = table_problems(data, name)
    if problems:
        return problems
    if decision_id == REQUIRED_APPROVALS:
        problems += _required_approvals_problems(data, name)
    # Decisions are found by id across every table in force: a second table with the id would take the first's
    # place in the processes that call it.
    problems += [Problem(f"the decision id {decision_id!r} is already defined by {other}, a table in force: {name} "
                         f"would take its place for the processes that call it; give the decision an id of its own",
                         decision_id, file=name) for other in defined_elsewhere(decision_id, name)]
    current = _newest().get(name)
    if current is not None and current.decision_id != decision_id and used_by(current.decision_id):
        problems.append(Problem(f"the decision was {current.decision_id!r}, which processes call; keep its id",
                                decision_id, file=name))
    files = {**in_force(), name: data}
    for definition in used_by(decision_id):
        problems += [Problem(f"process {definition.process_id} would not deploy with it: {p.message}", p.element_id,
                             p.element_name, p.file, p.line)
                     for p in flows.validate_diagram(definition.bpmn_xml.encode(), definition.source_name, files)]
    return problems


def used_by(decision_id: str) -> list[ProcessDefinition]:
    """The newest version of every process whose business-rule tasks call the decision."""
    newest: dict[str, ProcessDefinition] = {}
    for definition in db.session.execute(select(ProcessDefinition).order_by(ProcessDefinition.version)).scalars():
        newest[definition.process_id] = definition
    return [d for d in newest.values() if decision_id in called_decisions(d.bpmn_xml.encode(), d.source_name)]


def deploy_table(data: bytes, name: str, actor: Actor, comment: str = "", deployed_by_id: int | None = None,
                 approved_by_id: int | None = None, keep_any_version: bool = False) -> tuple[PolicyVersion, bool]:
    """Store the table as its file's newest version, unless the newest has this content (an earlier version's
    content becomes the newest again: a rollback; with keep_any_version that earlier version is returned, as
    deploy_shipped needs). InvalidDefinition lists every problem."""
    name = valid_name(name)
    problems = validate_table(data, name)
    if problems:
        raise InvalidDefinition(problems)
    decision_id, _ = table_problems(data, name)
    digest = hashlib.sha256(data).hexdigest()
    versions = list(db.session.execute(select(PolicyVersion).where(PolicyVersion.name == name)
                                       .order_by(PolicyVersion.version)).scalars())
    same = [v for v in versions if v.content_hash == digest]
    if same and (keep_any_version or same[-1] is versions[-1]):
        return same[-1], False
    version = PolicyVersion(name=name, decision_id=decision_id, version=len(versions) + 1, content=data.decode(),
                            content_hash=digest, comment=comment, deployed_by_id=deployed_by_id,
                            approved_by_id=approved_by_id)
    db.session.add(version)
    db.session.flush()
    record(actor, "policy.deployed", "policy_version", version.id, name=name, version=version.version,
           content_hash=digest, comment=comment, deployed_by_id=deployed_by_id, approved_by_id=approved_by_id,
           restores_version=same[-1].version if same else None)
    return version, True


def deploy_shipped(actor: Actor) -> list[tuple[PolicyVersion, bool]]:
    """Deploy every shipped table whose content no version has yet (never undoing a newer version)."""
    return [deploy_table(data, name, actor, keep_any_version=True) for name, data in shipped().items()]


@dataclass(frozen=True)
class RuleChange:
    kind: str  # added, removed, changed, same
    before: TableRule | None
    after: TableRule | None


def compare(before: bytes, after: bytes, name: str) -> tuple[TableView, TableView, list[RuleChange]]:
    """Two versions of a table and their rules matched by id, in the new version's order (removed ones where they
    were)."""
    old, new = table_view(before, name), table_view(after, name)
    olds = {rule.rule_id: rule for rule in old.rules}
    news = {rule.rule_id: rule for rule in new.rules}
    changes = [RuleChange("same" if olds.get(r.rule_id) == r else "changed" if r.rule_id in olds else "added",
                          olds.get(r.rule_id), r) for r in new.rules]
    for position, rule in enumerate(old.rules):
        if rule.rule_id not in news:
            changes.insert(min(position, len(changes)), RuleChange("removed", rule, None))
    return old, new, changes


@dataclass(frozen=True)
class TableRow:
    name: str
    decision_id: str
    versions: list[PolicyVersion]  # newest first
    used_by: list[ProcessDefinition]


def list_tables() -> list[TableRow]:
    """Every deployed table with its versions, newest first, and the processes that call it."""
    rows: dict[str, list[PolicyVersion]] = {}
    for version in db.session.execute(select(PolicyVersion).order_by(PolicyVersion.name,
                                                                     PolicyVersion.version.desc())).scalars():
        rows.setdefault(version.name, []).append(version)
    return [TableRow(name, versions[0].decision_id, versions, used_by(versions[0].decision_id))
            for name, versions in rows.items()]


def get_version(name: str, version: int) -> PolicyVersion:
    """One deployed version of a table."""
    found = db.session.execute(select(PolicyVersion).where(PolicyVersion.name == name,
                                                           PolicyVersion.version == version)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"the decision table {name!r} has no version {version}")
    return found


def newest_version(name: str) -> PolicyVersion | None:
    """The version of a table in force, if one was deployed."""
    return _newest().get(name)

"""Deploying process diagrams: the shipped ones in bpmn/, or a file a seal administrator provides."""

from __future__ import annotations

from pathlib import Path

from app.models import ProcessDefinition
from app.models.audit import Actor
from app.services.operators import OPERATORS, SEALING_OPERATORS
from app.workflow import Problem, deploy, validate

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "bpmn"
POLICY_DIR = Path(__file__).resolve().parents[2] / "seal_policies"


def policies() -> dict[str, bytes]:
    """The decision tables (DMN) in seal_policies/ that diagrams' business-rule tasks may call."""
    return {path.name: path.read_bytes() for path in sorted(POLICY_DIR.glob("*.dmn"))}


def deploy_file(path: Path, actor: Actor, keep_any_version: bool = False) -> tuple[ProcessDefinition, bool]:
    """Deploy one BPMN file as its process's newest version (an earlier version's content too: a rollback);
    (definition, whether a new version was created). See engine.deploy for keep_any_version."""
    return deploy(path.read_bytes(), path.name, OPERATORS.keys(), policies(), actor, keep_any_version,
                  SEALING_OPERATORS)


def validate_file(path: Path) -> list[Problem]:
    """Every problem that would stop the file from deploying; empty when it would deploy."""
    return validate(path.read_bytes(), path.name, OPERATORS.keys(), policies(), SEALING_OPERATORS)


def deploy_shipped(actor: Actor) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy every diagram in bpmn/ whose content no version has yet (idempotent, and it never replaces a newer
    version an administrator deployed with the shipped one again)."""
    return [deploy_file(path, actor, keep_any_version=True) for path in sorted(SHIPPED_DIR.glob("*.bpmn"))]

"""Deploying process diagrams: the shipped ones in bpmn/, or a file a seal administrator provides."""

from __future__ import annotations

from pathlib import Path

from app.jobs.runner import OPERATORS
from app.models import ProcessDefinition
from app.services.audit import Actor
from app.workflow import Problem, deploy, validate

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "bpmn"


def deploy_file(path: Path, actor: Actor) -> tuple[ProcessDefinition, bool]:
    """Deploy one BPMN file; (definition, whether a new version was created)."""
    return deploy(path.read_bytes(), path.name, OPERATORS.keys(), actor)


def validate_file(path: Path) -> list[Problem]:
    """Every problem that would stop the file from deploying; empty when it would deploy."""
    return validate(path.read_bytes(), path.name, OPERATORS.keys())


def deploy_shipped(actor: Actor) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy every diagram in bpmn/ (idempotent: unchanged files create no new version)."""
    return [deploy_file(path, actor) for path in sorted(SHIPPED_DIR.glob("*.bpmn"))]

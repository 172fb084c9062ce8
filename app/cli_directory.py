"""`flask directory ...`: people and departments from the directory (LDAP)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli import clear_errors
from app.extensions import db
from app.models.audit import Actor
from app.services import directory
from app.services.directory import SyncReport

directory_cli = AppGroup("directory")  # registered, with its help, in app/cli.py


def report_lines(report: SyncReport) -> list[str]:
    """The report as lines for a terminal."""
    would = "would be " if report.dry_run else ""
    lines = [f"{report.people} people in the directory"]
    for name in report.departments:
        lines.append(f"department {name}: {would}created")
    for username in report.created:
        lines.append(f"{username}: {would}created")
    for username, changes in report.updated.items():
        described = "; ".join(f"{field} {before!r} -> {after!r}" for field, (before, after) in changes.items())
        lines.append(f"{username}: {would}updated ({described})")
    for username in report.reactivated:
        lines.append(f"{username}: {would}reactivated")
    for username in report.deactivated:
        lines.append(f"{username}: {would}deactivated (no longer in the directory)")
    for username, reason in report.skipped.items():
        lines.append(f"{username}: skipped ({directory.SKIP_REASONS[reason]})")
    if not report.changed:
        lines.append("nothing to change")
    elif report.dry_run:
        lines.append("dry run: nothing was changed")
    return lines


@directory_cli.command("sync")
@click.option("--dry-run", is_flag=True, help="Say what would change, and change nothing.")
@clear_errors
def sync(dry_run: bool) -> None:
    """Create and update directory people's accounts and departments; deactivate those who left (idempotent)."""
    report = directory.sync(Actor.system("cli"), dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in report_lines(report):
        click.echo(line)

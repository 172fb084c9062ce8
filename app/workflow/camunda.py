"""Camunda Modeler's ways of writing a diagram, read as SealFlow runs them.

Camunda Modeler (Camunda 7) writes some things differently from SealFlow's own form. Before a diagram is vetted and
parsed, the parser asks this module for the SealFlow form of each expression it holds (the stored XML stays as
drawn):
- a timer written as plain ISO 8601 text (`P3D`, `PT4H`, `2026-12-24T10:00:00Z`), which SpiffWorkflow would evaluate
  as Python, becomes a quoted string once SealFlow has checked it; any other timer text is an expression;
- a JUEL condition (`${amount > 1000 && document_type == 'contract'}`) or a FEEL one (`amount > 1000 and x = "a"`) in
  its simple forms (comparisons, and/or/not, &&/||/!, true/false/null) becomes SealFlow's Python-style expression;
  anything else is refused with its text and the form to write instead.
Camunda's multi-instance collection (camunda:collection, camunda:elementVariable) is read by the parser too
(collection_variable), and its properties and assignment attributes by the assignment rules.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from app.workflow.expressions import MAX_LENGTH

# The BPMN elements whose text is an expression a Camunda diagram may write in JUEL or FEEL.
TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")
EXPRESSION_TAGS = ("conditionExpression", "loopCardinality", "completionCondition", "condition", *TIMER_TAGS)
EXAMPLE = 'amount > 1000 and document_type == "contract"'

_ISO_DURATION = re.compile(r"P(?=[\dT])(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?")
_ISO_CYCLE = re.compile(r"R\d*/[-+:.,\dA-Z/]+")
_ISO_LIKE = re.compile(r"(P\d|PT\d|R\d*/|\d{4}-\d)")  # meant as ISO 8601, whatever follows
_WHAT = {"timeDuration": "an ISO 8601 duration such as P3D or PT4H",
         "timeDate": "an ISO 8601 date and time such as 2026-12-24T10:00:00Z",
         "timeCycle": "an ISO 8601 repetition such as R3/PT10M"}


class CamundaFormError(ValueError):
    """An expression written as Camunda writes it that SealFlow cannot read; the message quotes it and says what to
    write instead."""


def _quoted(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION_PARTS = re.compile(rf"P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                             rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?", re.IGNORECASE)
_DAYS = (366, 31, 7, 1, 1 / 24, 1 / 1440, 1 / 86400)  # at most, per unit
MAX_TIMER_DAYS = 36_525  # a hundred years: no approval waits longer


def _too_long(value: str) -> bool:
    """Whether a duration (or a repetition's durations) is longer than MAX_TIMER_DAYS, judged before SpiffWorkflow
    computes it: it counts a duration's months one by one."""
    for part in value.split("/"):
        match = _DURATION_PARTS.fullmatch(part.strip())
        if match is not None and sum(float((n or "0").replace(",", ".")) * d
                                     for n, d in zip(match.groups(), _DAYS, strict=True)) > MAX_TIMER_DAYS:
            return True
    return False


def timer_problem(kind: str, value: Any) -> str | None:
    """What a timer's value (its ISO text, or what its expression gave) must be when SealFlow cannot schedule it,
    e.g. "an ISO 8601 duration such as P3D or PT4H"; None when it can. kind is the BPMN element: timeDuration,
    timeDate or timeCycle."""
    if not isinstance(value, str):
        return _WHAT[kind]
    if len(value) > 100 or _too_long(value):
        return f"{_WHAT[kind]}, at most {MAX_TIMER_DAYS // 365} years ahead"
    try:
        if kind == "timeDuration":
            datetime.now(UTC) + TimerEventDefinition.get_timedelta_from_start(
                TimerEventDefinition.parse_iso_duration(value))
        elif kind == "timeDate":
            if not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
                raise ValueError(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # SpiffWorkflow raises bare Exceptions, and OverflowError past year 9999
        return _WHAT[kind]
    return None


def timer_kind(definition: Any) -> str | None:
    """The BPMN element of a SpiffWorkflow timer event definition (timeDuration, timeDate, timeCycle), or None."""
    for cls, kind in ((DurationTimerEventDefinition, "timeDuration"), (TimeDateEventDefinition, "timeDate"),
                      (CycleTimerEventDefinition, "timeCycle")):
        if isinstance(definition, cls):
            return kind
    return None


# Variables Camunda's engine provides to expressions, which SealFlow's process data never holds.
CAMUNDA_VARIABLES = frozenset({"execution", "task", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances",
                               "loopCounter", "authenticatedUserId", "processEngine", "variables"})
_TOKEN = re.compile(r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|=|<|>|!|\(|\)|\[|\]|,|\+|-|\*|/|%)
)""", re.VERBOSE)
_BOTH = {"&&": "and", "||": "or", "!": "not", "=": "==", "true": "True", "false": "False", "null": "None"}
_JUEL_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"}


def _translated(text: str, juel: bool) -> str:
    """The simple JUEL or FEEL expression as SealFlow's Python-style one; CamundaFormError with the reason when it
    is not that simple."""
    words, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].lstrip()
            raise CamundaFormError(f"{rest[:1]!r} at {_quoted(rest[:20])} has no SealFlow form")
        position = match.end()
        token = match.group(match.lastgroup or "")
        if token in CAMUNDA_VARIABLES:
            raise CamundaFormError(f"it reads {token}, which Camunda's engine provides and SealFlow does not")
        if juel and token == "empty":
            raise CamundaFormError("JUEL's empty has no SealFlow form; write x is None or x == \"\"")
        words.append(_BOTH.get(token) or (_JUEL_WORDS.get(token) if juel else None) or token)
    return " ".join(words)


def _python_names(text: str) -> set[str] | None:
    """The names a text reads if it is a Python expression, None if it is not; too long or deep to tell, no names
    (the vetting refuses it then, with the reason)."""
    if len(text) > MAX_LENGTH:
        return set()
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None
    except (ValueError, RecursionError, MemoryError):
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


_JUEL = re.compile(r"^\s*[$#]\{(?P<inner>.*)\}\s*$", re.DOTALL)


@dataclass(frozen=True)
class SealFlowForm:
    """An expression as SealFlow runs it, and what it was written in (None: SealFlow's own form)."""

    text: str
    written_in: str | None = None


def sealflow_form(tag: str, text: str, language: str | None = None) -> SealFlowForm:
    """The SealFlow form of the text of a diagram element (tag: its BPMN element, e.g. conditionExpression; language:
    its `language` attribute). A plain ISO 8601 timer becomes a quoted string; JUEL (`${…}`) and FEEL (`= …`, or
    anything that is not Python but reads as simple FEEL) become Python-style expressions.

    :raises CamundaFormError: the text cannot be read; the message quotes it and shows SealFlow's form.
    """
    stripped = text.strip()
    if language and not re.search(r"feel|juel|python", language, re.IGNORECASE):
        raise CamundaFormError(f"{_quoted(stripped)} is written in {language}: SealFlow runs no scripts; write an "
                               f"expression such as {EXAMPLE}")
    iso = _iso_timer(tag, stripped) if tag in TIMER_TAGS else None
    if iso is not None:
        return iso
    juel = _JUEL.match(stripped)
    if juel is not None:
        return _read(juel.group("inner"), stripped, "JUEL")
    if stripped.startswith("="):
        return _read(stripped[1:], stripped, "FEEL")
    names = _python_names(stripped)
    if names is None:
        return _read(stripped, stripped, "FEEL")
    if tag in TIMER_TAGS and not names:
        _check_constant_timer(tag, stripped)
    if names & {"true", "false", "null"}:
        try:
            return SealFlowForm(_translated(stripped, juel=False), "FEEL")
        except CamundaFormError:
            pass  # Python syntax the simple reading does not know (a dict, a slice): leave it as written
    return SealFlowForm(stripped)


def _iso_timer(tag: str, text: str) -> SealFlowForm | None:
    """A timer written as plain ISO 8601 text, checked and quoted; None when it is an expression."""
    if any(p.fullmatch(text) for p in (_ISO_DURATION, _ISO_DATE, _ISO_CYCLE)):
        expected = timer_problem(tag, text)
        if expected is not None:
            raise CamundaFormError(f"the timer {_quoted(text)} is not {expected}")
        return SealFlowForm(repr(text), "ISO 8601")
    if _ISO_LIKE.match(text):
        raise CamundaFormError(f"the timer {_quoted(text)} is not {_WHAT[tag]}")
    return None


def _check_constant_timer(tag: str, text: str) -> None:
    """A timer written as a Python string (SealFlow's own form, `"P3D"`) is checked now, like a plain ISO one."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        return
    expected = timer_problem(tag, value) if isinstance(value, str) else None
    if expected is not None:
        raise CamundaFormError(f"the timer {_quoted(text)} is not {expected}")


def _read(inner: str, written: str, language: str) -> SealFlowForm:
    try:
        python = _translated(inner, juel=language == "JUEL")
    except CamundaFormError as exc:
        what = ("is JUEL (Camunda) that SealFlow cannot translate" if language == "JUEL"
                else "is neither SealFlow's Python-style form nor simple FEEL")
        raise CamundaFormError(f"the expression {_quoted(written)} {what} ({exc}); write it as SealFlow's "
                               f"Python-style expression, e.g. {EXAMPLE}") from exc
    if _python_names(python) is None:
        raise CamundaFormError(f"the expression {_quoted(written)} is not valid {language} SealFlow can read (read "
                               f"as {_quoted(python)}, it is no expression); write it as SealFlow's Python-style "
                               f"expression, e.g. {EXAMPLE}")
    return SealFlowForm(python, language)


_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def collection_variable(text: str) -> str | None:
    """The process variable a camunda:collection names (`approvers` or `${approvers}`), or None when it is not a
    plain variable."""
    juel = _JUEL.match(text)
    name = (juel.group("inner") if juel else text).strip()
    return name if _IDENTIFIER.match(name) else None

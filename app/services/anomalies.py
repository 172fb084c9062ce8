"""Anomalies an auditor looks into, each flagged with its evidence (the applications behind it): sealing outside
working hours, an amount split under a policy threshold (same requester or same counterparty, amounts below the
threshold that add up to more than it within a few days), the same document sealed twice, and a burst of uses of
one seal. The rules' parameters are settings (README, Settings)."""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import ApplicationStatus, Document, DocumentKind, Seal, SealApplication, User
from app.services import audit

__all__ = ["Anomaly", "AnomalyKind", "AnomalyRules", "Use", "find_anomalies", "rules_from_settings"]


class AnomalyKind(enum.StrEnum):
    OUTSIDE_HOURS = "outside_hours"
    SPLIT = "split"
    SAME_DOCUMENT = "same_document"
    BURST = "burst"


@dataclass(frozen=True)
class AnomalyRules:
    """The rules' parameters: the organisation's time zone, working days (ISO weekdays, Monday 1) and hours, the
    split threshold and window, and the burst size and window."""

    zone: ZoneInfo
    working_days: frozenset[int]
    working_hours: tuple[time, time]
    split_threshold: Decimal
    split_days: int
    burst_uses: int
    burst_minutes: int


@dataclass(frozen=True)
class Use:
    """An application as the rules see it: filed when, sealed when (None if not yet), by whom, for whom, how much,
    which document and seal."""

    application_id: int
    title: str
    counterparty: str
    requester: str
    requester_id: int
    seal: str
    seal_id: int
    amount: Decimal | None
    filed_at: datetime
    sealed_at: datetime | None
    document_sha256: str
    status: ApplicationStatus


@dataclass(frozen=True)
class Anomaly:
    """One flag: its kind, what ties the evidence together (a requester, a counterparty, a document hash, a seal, or
    the hour), and the applications behind it."""

    kind: AnomalyKind
    subject: str
    evidence: tuple[Use, ...]
    total: Decimal | None = None


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        found = re.fullmatch(r"([1-7])(?:-([1-7]))?", part)
        if found is None:
            raise InvalidInput(f"SEALFLOW_WORKING_DAYS: {part!r} is not a weekday 1–7 or a range such as 1-5")
        first, last = int(found[1]), int(found[2] or found[1])
        days.update(range(first, last + 1))
    return frozenset(days)


def _hours(text: str) -> tuple[time, time]:
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    try:
        if found is None:
            raise ValueError(text)
        start, end = time(int(found[1]), int(found[2])), time(int(found[3]), int(found[4]))
    except ValueError:
        raise InvalidInput(f"SEALFLOW_WORKING_HOURS: {text!r} is not a span such as 09:00-18:00") from None
    if end <= start:
        raise InvalidInput(f"SEALFLOW_WORKING_HOURS: {text!r} ends before it starts")
    return start, end


def rules_from_settings() -> AnomalyRules:
    """The rules as configured; InvalidInput naming the setting that cannot be read."""
    config = current_app.config
    try:
        zone = ZoneInfo(config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"SEALFLOW_TIMEZONE: {config['TIMEZONE']!r} is not a time zone") from None
    return AnomalyRules(zone, _days(config["WORKING_DAYS"]), _hours(config["WORKING_HOURS"]),
                        Decimal(config["SPLIT_THRESHOLD"]), config["SPLIT_DAYS"], config["BURST_USES"],
                        config["BURST_MINUTES"])


def _uses(start: datetime, end: datetime) -> list[Use]:
    """Applications filed or sealed in [start, end), oldest filing first: one query."""
    sealed = (select(Document.application_id, func.min(Document.created_at).label("sealed_at"))
              .where(Document.kind == DocumentKind.SEALED).group_by(Document.application_id).subquery())
    original = (select(Document.application_id, func.min(Document.sha256).label("sha256"))
                .where(Document.kind == DocumentKind.ORIGINAL, Document.version == 1)
                .group_by(Document.application_id).subquery())
    query = (select(SealApplication, User.display_name, Seal.name, sealed.c.sealed_at, original.c.sha256)
             .join(User, User.id == SealApplication.requester_id).join(Seal, Seal.id == SealApplication.seal_id)
             .outerjoin(sealed, sealed.c.application_id == SealApplication.id)
             .outerjoin(original, original.c.application_id == SealApplication.id)
             .where(((SealApplication.created_at >= start) & (SealApplication.created_at < end))
                    | ((sealed.c.sealed_at >= start) & (sealed.c.sealed_at < end)))
             .order_by(SealApplication.created_at, SealApplication.id))
    return [Use(a.id, a.title, a.counterparty, requester, a.requester_id, seal, a.seal_id, a.amount, a.created_at,
                sealed_at, sha256 or "", a.status)
            for a, requester, seal, sealed_at, sha256 in db.session.execute(query)]


def _outside_hours(uses: Iterable[Use], rules: AnomalyRules) -> list[Anomaly]:
    flags = []
    for use in uses:
        if use.sealed_at is None:
            continue
        local = use.sealed_at.replace(tzinfo=UTC).astimezone(rules.zone)
        start, end = rules.working_hours
        if local.isoweekday() not in rules.working_days or not start <= local.time() < end:
            flags.append(Anomaly(AnomalyKind.OUTSIDE_HOURS, f"{local:%Y-%m-%d %H:%M} ({rules.zone.key})", (use,)))
    return flags


def _windows(group: Sequence[Use], span: timedelta, enough: int,
             when: Callable[[Use], datetime]) -> list[tuple[Use, ...]]:
    """Runs of at least `enough` uses (in the order of `when`) within `span`, each use in one run at most."""
    runs, first = [], 0
    for last in range(len(group)):
        while when(group[last]) - when(group[first]) > span:
            first += 1
        if last - first + 1 >= enough:
            runs.append(tuple(group[first:last + 1]))
    merged: list[tuple[Use, ...]] = []
    for run in runs:  # a longer run that starts where the previous one did replaces it
        if merged and run[0] is merged[-1][0]:
            merged[-1] = run
        elif not merged or when(run[0]) > when(merged[-1][-1]):
            merged.append(run)
    return merged


def _split(uses: Iterable[Use], rules: AnomalyRules) -> list[Anomaly]:
    """Amounts each under the threshold by one requester, or for one counterparty, adding up past it within the
    window (refused and withdrawn applications are left out: nothing came of them)."""
    below = [u for u in uses if u.amount is not None and u.amount < rules.split_threshold
             and u.status not in (ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN)]
    groups: dict[str, list[Use]] = defaultdict(list)
    for use in below:
        groups[f"requester:{use.requester}"].append(use)
        if use.counterparty.strip():
            groups[f"counterparty:{use.counterparty.strip().casefold()}"].append(use)
    flags = []
    window = timedelta(days=rules.split_days)
    for key, group in groups.items():
        for run in _adding_up(group, window, rules.split_threshold):
            subject = run[0].requester if key.startswith("requester:") else run[0].counterparty.strip()
            flags.append(Anomaly(AnomalyKind.SPLIT, subject, run, sum((u.amount or Decimal(0) for u in run),
                                                                       Decimal(0))))
    return flags


def _adding_up(group: Sequence[Use], window: timedelta, threshold: Decimal) -> list[tuple[Use, ...]]:
    """The longest runs within the window whose amounts add up past the threshold, without overlaps."""
    runs: list[tuple[Use, ...]] = []
    start = 0
    while start < len(group):
        end, total = start, Decimal(0)
        while end < len(group) and group[end].filed_at - group[start].filed_at <= window:
            total += group[end].amount or Decimal(0)
            end += 1
        if end - start >= 2 and total > threshold:
            runs.append(tuple(group[start:end]))
            start = end
        else:
            start += 1
    return runs


def _same_document(uses: Iterable[Use]) -> list[Anomaly]:
    by_hash: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        if use.sealed_at is not None and use.document_sha256:
            by_hash[use.document_sha256].append(use)
    return [Anomaly(AnomalyKind.SAME_DOCUMENT, sha256, tuple(group)) for sha256, group in by_hash.items()
            if len(group) > 1]


def _burst(uses: Iterable[Use], rules: AnomalyRules) -> list[Anomaly]:
    by_seal: dict[int, list[Use]] = defaultdict(list)
    for use in uses:
        if use.sealed_at is not None:
            by_seal[use.seal_id].append(use)
    span = timedelta(minutes=rules.burst_minutes)
    return [Anomaly(AnomalyKind.BURST, run[0].seal, run) for group in by_seal.values()
            for run in _windows(sorted(group, key=_sealed_at), span, rules.burst_uses, _sealed_at)]


def _sealed_at(use: Use) -> datetime:
    return use.sealed_at or use.filed_at


def find_anomalies(start: date, end: date, reader: User, rules: AnomalyRules | None = None) -> list[Anomaly]:
    """Every flag over the applications filed or sealed from `start` to `end` (UTC days, both included), for one of
    the log's readers (auditors, seal administrators): PermissionDenied for anyone else."""
    audit.check_log_reader(reader)
    if end < start:
        raise InvalidInput("the period ends before it starts")
    rules = rules or rules_from_settings()
    # The split window reaches back before the period: a split straddling its start is still one.
    since = datetime.combine(start, time()) - timedelta(days=rules.split_days)
    uses = _uses(since, datetime.combine(end + timedelta(days=1), time()))
    in_period = [u for u in uses if u.filed_at.date() >= start or (u.sealed_at and u.sealed_at.date() >= start)]
    return [*_outside_hours(in_period, rules), *_split(uses, rules), *_same_document(in_period),
            *_burst(in_period, rules)]

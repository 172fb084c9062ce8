"""Seal-usage statistics: how often a seal was applied, when last, month by month and by image version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import extract, func, select

from app.extensions import db
from app.models import Document, DocumentKind, Seal, SealImage
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow


@dataclass(frozen=True)
class MonthUse:
    """Documents sealed with a seal in one calendar month (UTC)."""

    year: int
    month: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class SealUsage:
    """A seal's use: every sealed document version signed with it (each party's signature counts once), the last
    one's time, the last months (oldest first, months without a use included) and the count per image version."""

    total: int
    last_used_at: datetime | None
    months: tuple[MonthUse, ...]
    by_image_version: dict[int, int]


def _months_back(now: datetime, months: int) -> list[tuple[int, int]]:
    """(year, month) of the `months` calendar months ending with now's, oldest first."""
    index = now.year * 12 + now.month - 1
    return [divmod(i, 12) for i in range(index - months + 1, index + 1)]


def seal_usage(seal_id: int, months: int = 12) -> SealUsage:
    """How a seal was used: documents sealed with it, the last use, the last `months` months and per image version
    (documents sealed before image versions were recorded count under version 1, as the migration recorded them)."""
    get_or_not_found(Seal, seal_id, "seal")
    mine = (Document.kind == DocumentKind.SEALED, SealImage.seal_id == seal_id)
    total, last = db.session.execute(select(func.count(Document.id), func.max(Document.created_at))
                                     .join(SealImage, Document.seal_image_id == SealImage.id).where(*mine)).one()
    window = _months_back(utcnow(), months)
    start = datetime(window[0][0], window[0][1] + 1, 1)
    year, month = extract("year", Document.created_at), extract("month", Document.created_at)
    counted = db.session.execute(
        select(year, month, func.count()).join(SealImage, Document.seal_image_id == SealImage.id)
        .where(*mine, Document.created_at >= start).group_by(year, month)).all()
    per_month = {(int(y), int(m)): int(n) for y, m, n in counted}
    by_version = db.session.execute(
        select(SealImage.version, func.count()).join(Document, Document.seal_image_id == SealImage.id)
        .where(*mine).group_by(SealImage.version)).all()
    return SealUsage(int(total), last, tuple(MonthUse(y, m + 1, per_month.get((y, m + 1), 0)) for y, m in window),
                     {int(v): int(n) for v, n in by_version})

"""Substitutes: a user who is away names someone to act for them during a period.

Tasks stay assigned to the absent user; while the period runs they also reach the substitute, and a task
the substitute completes records both (completed by the substitute, on behalf of the absent user).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, select

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import RoleName, Substitution, User
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow

# Built once: the inbox and every decision ask it.
_REPRESENTED = select(Substitution.user_id).where(
    Substitution.substitute_id == bindparam("user_id"), Substitution.starts_at <= bindparam("at"),
    Substitution.ends_at > bindparam("at"), Substitution.cancelled_at.is_(None),
)


def represented_by(user_id: int, at: datetime) -> set[int]:
    """The users this user stands in for at that moment."""
    return set(db.session.execute(_REPRESENTED, {"user_id": user_id, "at": at}).scalars())


def substitutes_of(user_ids: Collection[int], at: datetime) -> dict[int, list[Substitution]]:
    """The substitutions running at that moment for each of these users (who their tasks also reach)."""
    if not user_ids:
        return {}
    query = select(Substitution).where(
        Substitution.user_id.in_(set(user_ids)), Substitution.starts_at <= at, Substitution.ends_at > at,
        Substitution.cancelled_at.is_(None),
    ).order_by(Substitution.starts_at, Substitution.id)
    found: dict[int, list[Substitution]] = {}
    for substitution in db.session.execute(query).scalars():
        found.setdefault(substitution.user_id, []).append(substitution)
    return found


def name_substitute(user: User, substitute_id: int, starts_at: datetime, ends_at: datetime, reason: str,
                    actor: Actor) -> Substitution:
    """Record that `substitute` acts for `user` from starts_at to ends_at (naive UTC)."""
    substitute = db.session.get(User, substitute_id)
    if substitute is None or not substitute.active:
        raise InvalidInput("choose an active user as your substitute")
    if substitute.id == user.id:
        raise InvalidInput("you cannot be your own substitute")
    if substitute.has_role(RoleName.AUDITOR):
        raise InvalidInput("an auditor never decides, so cannot be a substitute")
    if ends_at <= starts_at:
        raise InvalidInput("the period must end after it starts")
    if ends_at <= utcnow():
        raise InvalidInput("the period is already over")
    overlapping = db.session.execute(
        select(Substitution.id).where(Substitution.user_id == user.id, Substitution.cancelled_at.is_(None),
                                      Substitution.starts_at < ends_at, Substitution.ends_at > starts_at)
    ).first()
    if overlapping:
        raise InvalidInput("you already named a substitute for part of that period; end it first")
    substitution = Substitution(user_id=user.id, substitute_id=substitute.id, starts_at=starts_at,
                                ends_at=ends_at, reason=reason.strip()[:200])
    db.session.add(substitution)
    db.session.flush()
    record(actor, "substitute.named", "user", user.id, substitute_id=substitute.id, substitute=substitute.username,
           starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat(), reason=substitution.reason)
    return substitution


def end_substitution(substitution_id: int, user: User, actor: Actor) -> Substitution:
    """End a substitution early (the user is back)."""
    substitution = get_or_not_found(Substitution, substitution_id, "substitution")
    if substitution.user_id != user.id:
        raise NotFound(f"substitution {substitution_id} does not exist")  # not yours: as if it were not there
    if substitution.cancelled_at is None:
        substitution.cancelled_at = utcnow()
        record(actor, "substitute.ended", "user", user.id, substitution_id=substitution.id,
               substitute_id=substitution.substitute_id)
    return substitution


def substitutions_of(user: User) -> list[Substitution]:
    """The user's substitutions that are not over, and the ones naming them, soonest first."""
    now = utcnow()
    query = (
        select(Substitution)
        .where((Substitution.user_id == user.id) | (Substitution.substitute_id == user.id))
        .where(Substitution.cancelled_at.is_(None), Substitution.ends_at > now)
        .order_by(Substitution.starts_at)
    )
    return list(db.session.execute(query).scalars())

"""Loading one row by id, or the domain's NotFound: the one place the services do it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from app.errors import NotFound
from app.extensions import db

T = TypeVar("T")


def get_or_not_found(model: type[T], object_id: Any, what: str, options: Sequence[Any] = ()) -> T:
    """The row of `model` with this id (loaded with the given options); NotFound("<what> <id> does not exist")
    otherwise."""
    found = db.session.get(model, object_id, options=options)
    if found is None:
        raise NotFound(f"{what} {object_id} does not exist")
    return found

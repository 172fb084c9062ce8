"""Request-side helpers shared by the views: role checks, the acting user, a JSON body read strictly, ids in URLs
that fit the database."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.routing import IntegerConverter, Map

from app.errors import MalformedRequest, PermissionDenied
from app.models import RoleName, User
from app.models.audit import Actor

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: RoleName) -> Callable[[F], F]:
    """Login required, and one of the roles; otherwise 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_user.has_role(r) for r in roles):
                raise PermissionDenied("your role does not allow this page")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def me() -> User:
    """The logged-in user."""
    return cast(User, current_user._get_current_object())


def actor() -> Actor:
    """The logged-in user and the address the request came from, for the audit log."""
    return Actor.of(me(), request.remote_addr)


# Nothing SealFlow is sent nests this deep ({"xml": …} is one level); far deeper exhausts the parser's recursion.
JSON_DEPTH_LIMIT = 20


def posted_json() -> Any:
    """The request's JSON body. MalformedRequest (400) when it is not JSON, holds a string that is not text (a lone
    surrogate such as "\\ud800": Python's json reads it, but it cannot be encoded, stored or shown) or that no
    database column keeps (a NUL), or nests deeper than JSON_DEPTH_LIMIT."""
    if not request.is_json:
        raise MalformedRequest(_("Send the request body as JSON (Content-Type: application/json)."))
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedRequest(_("The request body is not valid JSON.")) from exc
    _check_json(body)
    return body


def _check_json(body: Any) -> None:
    """Walk the parsed body without recursion: every string (keys too) encodes as UTF-8 and holds no NUL, and no
    deeper than the limit."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise MalformedRequest(_("The request body holds text that is not valid Unicode (a lone "
                                         "surrogate).")) from exc
            if "\x00" in value:  # PostgreSQL keeps no NUL in any text, nor compares one
                raise MalformedRequest(_("The request body holds a NUL character."))
        elif isinstance(value, dict | list):
            if depth >= JSON_DEPTH_LIMIT:
                raise MalformedRequest(_("The request body nests deeper than %(limit)s levels.",
                                         limit=JSON_DEPTH_LIMIT))
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


# The largest id or version a row can have: every such column is an INTEGER, 32 bits on PostgreSQL (SQLite keeps
# 64, and Python's driver refuses anything larger).
DATABASE_INT_MAX = 2**31 - 1


class DatabaseIntegerConverter(IntegerConverter):
    """`<int:…>` up to the largest id the database keeps: a larger one names no row, so its URL matches no route
    (404) instead of reaching the database, which refuses it (PostgreSQL: integer out of range; SQLite: the
    driver's OverflowError past 64 bits)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DATABASE_INT_MAX)
        super().__init__(map, *args, **kwargs)


def database_int(text: str) -> int:
    """A whole number from the query string that the database can compare (`type=` of request.args.get: anything
    else, a huge number included, reads as absent instead of reaching the database)."""
    value = int(text)
    if not -DATABASE_INT_MAX - 1 <= value <= DATABASE_INT_MAX:
        raise ValueError(text)
    return value

"""Request-side helpers shared by the views: role checks and the acting user."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import request
from flask_login import current_user, login_required

from app.errors import PermissionDenied
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

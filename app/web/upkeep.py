"""/upkeep: the long-term validity upkeep for seal administrators and auditors: sealed documents due for a new
document time-stamp, the latest renewals, and seal certificates that expire soon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.models import RoleName
from app.services import upkeep
from app.web.guards import me, role_required

bp = Blueprint("upkeep", __name__)


@bp.get("/upkeep")
@role_required(RoleName.SEAL_ADMIN, RoleName.AUDITOR)
def index() -> Any:
    return render_template("upkeep/index.html", upkeep=upkeep.upkeep_overview(me()))

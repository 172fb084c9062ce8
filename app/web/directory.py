"""The Directory page: seal administrators see the directory (LDAP) settings and sync people from it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.errors import DirectoryRefused, DirectoryUnavailable, InvalidInput
from app.extensions import db
from app.models import RoleName
from app.services import directory
from app.web.forms import DirectorySyncForm
from app.web.guards import actor, role_required

bp = Blueprint("directory", __name__)
# services.directory.SKIP_REASONS, in the page's language.
SKIP_LABELS = {
    "local": _l("an account created in SealFlow has this username"),
    "too_long": _l("the username is longer than %(limit)s characters", limit=directory.USERNAME_LIMIT),
    "duplicate": _l("the directory holds more than one person with this username"),
}


@bp.route("/admin/directory", methods=["GET", "POST"])
@role_required(RoleName.SEAL_ADMIN)
def index() -> Any:
    """The settings; a POST previews a sync (changing nothing) or runs it, and shows what it did."""
    form = DirectorySyncForm()
    status, report = (400 if form.is_submitted() else 200), None
    if form.validate_on_submit():
        try:
            report = directory.sync(actor(), dry_run=not form.apply.data)
        except (DirectoryUnavailable, DirectoryRefused, InvalidInput) as exc:
            db.session.rollback()
            flash(_("The sync did not run: %(reason)s", reason=exc.message), "error")
            status = exc.status
        else:
            if report.dry_run:
                db.session.rollback()
            else:
                db.session.commit()
            status = 200
    return render_template("directory/index.html", form=form, overview=directory.overview(), report=report,
                           skip_labels=SKIP_LABELS), status

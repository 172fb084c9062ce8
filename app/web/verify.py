"""Verification: the organisation's CRL, the public page behind a sealed document's QR code, and checking
any signed PDF."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, render_template

from app.models import RoleName
from app.services import verification
from app.web.forms import VerifyForm
from app.web.guards import role_required

bp = Blueprint("verify", __name__)


@bp.get("/pki/crl")
def crl() -> Any:
    return Response(verification.crl_der(), mimetype="application/pkix-crl",
                    headers={"Cache-Control": "max-age=300"})


@bp.route("/verify/<int:application_id>/<token>", methods=["GET", "POST"])
def public(application_id: int, token: str) -> Any:
    """Anyone holding the paper: what was sealed, and whether a file they have is that sealed document."""
    facts = verification.public_facts(application_id, token, current_app.config["ORGANISATION_NAME"])
    form = VerifyForm()
    report = matches = None
    if form.validate_on_submit():
        content = form.document.data.read()
        matches = hashlib.sha256(content).hexdigest() == facts.sealed_sha256
        report = verification.verify_document(content)
    return render_template("verify/public.html", facts=facts, form=form, report=report, matches=matches)


@bp.route("/verify", methods=["GET", "POST"])
@role_required(*RoleName)
def check() -> Any:
    """Any signed PDF, checked against the organisation's root and revocation list."""
    form = VerifyForm()
    report = verification.verify_document(form.document.data.read()) if form.validate_on_submit() else None
    return render_template("verify/check.html", form=form, report=report)

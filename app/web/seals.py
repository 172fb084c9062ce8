"""The seal registry: everyone who works with seals sees it; seal administrators add, suspend and revoke."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.errors import InvalidInput, PolicyViolation
from app.extensions import db
from app.models import RevocationReason, RoleName, Seal, SealKind, SealStatus
from app.services import accounts, compromise, keys, seal_images, seals, upkeep
from app.web import seal_history
from app.web.compromise import LOOKBACK_DAYS
from app.web.forms import SealEditForm, SealForm, SealImageForm, SealRenewForm, SealStatusForm
from app.web.guards import actor, database_int, me, role_required

if TYPE_CHECKING:
    from app.pdf import SealImageSpec

bp = Blueprint("seals", __name__)


@bp.get("/seals")
@role_required(*RoleName)
def index() -> Any:
    expiring = upkeep.expiring_seals() if me().has_role(RoleName.SEAL_ADMIN) else []
    return render_template("seals/index.html", seals=seals.list_seals(), status_form=SealStatusForm(),
                           expiring=expiring)


@bp.get("/seals/<int:seal_id>/preview.png")
@role_required(*RoleName)
def preview(seal_id: int) -> Any:
    return Response(seals.preview_png(seals.get_seal(seal_id)), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})


def _image(form: SealForm | SealImageForm) -> SealImageSpec | bytes:
    """The uploaded image's bytes, or the seal drawn from the form's text."""
    from app.pdf import SealImageSpec

    upload = form.image.data
    if upload:
        return upload.read()
    return SealImageSpec(organisation=form.organisation.data or "", purpose=form.purpose.data or "",
                         serial=form.serial.data or "", shape=form.shape.data)


def _department_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(d.id), d.name) for d in accounts.list_departments()]


@bp.route("/seals/new", methods=["GET", "POST"])
@role_required(RoleName.SEAL_ADMIN)
def new() -> Any:
    form = SealForm()
    form.department_id.choices = _department_choices()
    if not form.validate_on_submit():
        return render_template("seals/new.html", form=form), 422 if form.is_submitted() else 200
    image = _image(form)
    department = accounts.get_department(int(form.department_id.data)) if form.department_id.data else None
    try:
        seal = seals.create_seal(form.name.data or "", SealKind(form.kind.data), image, actor(), department)
    except InvalidInput as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("seals/new.html", form=form), exc.status
    db.session.commit()
    flash(_("Seal “%(name)s” added, with its own key and certificate.", name=seal.name), "success")
    return redirect(url_for("seals.index"))


@bp.post("/seals/<int:seal_id>/status")
@role_required(RoleName.SEAL_ADMIN)
def change_status(seal_id: int) -> Any:
    form = SealStatusForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(error) for error in errors), "error")
        return redirect(url_for("seals.index"))
    reason = RevocationReason(form.revocation_reason.data) if form.revocation_reason.data else None
    try:
        seal = seals.set_status(seal_id, SealStatus(form.status.data), actor(), reason, form.revocation_note.data or "")
    except (PolicyViolation, InvalidInput) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("seals.index"))
    db.session.commit()
    if seal.revocation_reason == RevocationReason.KEY_COMPROMISE:
        flash(_("Seal “%(name)s” is revoked for key compromise. Its compromise report below lists the documents it "
                "sealed, with a draft invalidation notice for the legal team.", name=seal.name), "success")
        return redirect(url_for("seals.detail", seal_id=seal.id, _anchor="compromise-report"))
    flash(_("Seal “%(name)s” is now %(status)s.", name=seal.name, status=seal.status.value), "success")
    return redirect(url_for("seals.index"))


def _edit_form(seal: Seal) -> SealEditForm:
    """The edit form with today's people and departments, filled with the seal's name and holders."""
    people = [SelectChoice(str(u.id), u.display_name) for u in accounts.list_active_users()]
    form = SealEditForm(data={"name": seal.name, "owner_id": seal.owner_user_id,
                              "custodian_ids": [u.id for u in seal.custodians],
                              "department_ids": [d.id for d in seal.user_departments],
                              "user_ids": [u.id for u in seal.user_people]})
    # Any person may be chosen; the service says which seals have an owner (the page offers it only on those).
    form.owner_id.choices = [SelectChoice("", "—"), *people]
    form.custodian_ids.choices = form.user_ids.choices = people
    form.department_ids.choices = [SelectChoice(str(d.id), d.name) for d in accounts.list_departments()]
    return form


@bp.get("/seals/<int:seal_id>")
@role_required(*RoleName)
def detail(seal_id: int) -> Any:
    """A seal: who holds it, its image versions, certificates, usage and history (newest first, paginated)."""
    overview = seals.overview(seal_id, request.args.get("page", 1, type=database_int) or 1)
    seal = overview.seal
    # A revoked seal's readers get a link to its compromise report; after a key compromise, the report itself.
    report_link = seal.revoked_at is not None and compromise.may_read(me())
    report = compromise.exposure(seal.id, None, me()) if report_link and (
        seal.revocation_reason == RevocationReason.KEY_COMPROMISE) else None
    return render_template("seals/detail.html", overview=overview, seal=seal, report_link=report_link, report=report,
                           lookback_days=LOOKBACK_DAYS, history=seal_history.rows(overview.history.events),
                           renew_form=SealRenewForm())


@bp.route("/seals/<int:seal_id>/edit", methods=["GET", "POST"])
@role_required(RoleName.SEAL_ADMIN)
def edit(seal_id: int) -> Any:
    """Rename a seal and set its owner, custodians and users."""
    seal = seals.get_seal(seal_id)
    form = _edit_form(seal)
    if not form.validate_on_submit():
        return render_template("seals/edit.html", seal=seal, form=form), 422 if form.is_submitted() else 200
    spec = seals.SealEditSpec(form.name.data or "", seals.HoldersSpec(
        owner_id=form.owner_id.data, custodian_ids=tuple(form.custodian_ids.data or ()),
        department_ids=tuple(form.department_ids.data or ()), user_ids=tuple(form.user_ids.data or ())))
    try:
        seals.edit_seal(seal.id, spec, actor())
    except InvalidInput as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("seals/edit.html", seal=seals.get_seal(seal_id), form=form), exc.status
    db.session.commit()
    flash(_("“%(name)s” is saved.", name=seal.name), "success")
    return redirect(url_for("seals.detail", seal_id=seal.id))


@bp.route("/seals/<int:seal_id>/image", methods=["GET", "POST"])
@role_required(RoleName.SEAL_ADMIN)
def new_image(seal_id: int) -> Any:
    """A new image version: drawn from text or uploaded; from now on sealing uses it."""
    seal = seals.get_seal(seal_id)
    form = SealImageForm()
    if not form.validate_on_submit():
        return render_template("seals/image.html", seal=seal, form=form), 422 if form.is_submitted() else 200
    image = _image(form)
    try:
        added = seal_images.add_image_version(seal.id, image, actor(), form.note.data or "")
    except (InvalidInput, PolicyViolation) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("seals/image.html", seal=seals.get_seal(seal_id), form=form), exc.status
    db.session.commit()
    flash(_("Image version %(version)s of “%(name)s” is now the one sealing uses.", version=added.version,
            name=seal.name), "success")
    return redirect(url_for("seals.detail", seal_id=seal.id))


@bp.get("/seals/<int:seal_id>/images/<int:version>.png")
@role_required(*RoleName)
def image_preview(seal_id: int, version: int) -> Any:
    # A version never changes: its preview may be kept.
    return Response(seal_images.preview_png(seal_images.image_version(seal_id, version)), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=86400"})


@bp.post("/seals/<int:seal_id>/certificate")
@role_required(RoleName.SEAL_ADMIN)
def renew_certificate(seal_id: int) -> Any:
    """A new key and certificate for the seal; the old certificate stays for verifying earlier signatures."""
    try:
        seal = keys.renew_seal_certificate(seal_id, actor())
    except PolicyViolation as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("seals.detail", seal_id=seal_id))
    db.session.commit()
    flash(_("“%(name)s” has a new key and certificate; documents sealed before still verify.", name=seal.name),
          "success")
    return redirect(url_for("seals.detail", seal_id=seal_id))

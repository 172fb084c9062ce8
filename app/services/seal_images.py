"""Seal images and their versions: a new image is a new version, stamping uses the current one, and documents
sealed before keep the one they were sealed with (each sealed document records its version)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select

from app.errors import InvalidInput, NotFound, PolicyViolation
from app.extensions import db
from app.models import Seal, SealImage, SealStatus
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.seal import IMAGE_NOTE_LIMIT
from app.services.documents import pdf_errors

if TYPE_CHECKING:
    from app.pdf import SealImageSpec, SealUploadLimits


@dataclass(frozen=True)
class PreparedImage:
    """A seal image checked and drawn, ready to become a version: the PDF stamping uses, the SVG it was drawn
    from (empty for an upload), and where it came from ("drawn" or "uploaded")."""

    image_pdf: bytes
    image_svg: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.image_pdf).hexdigest()


def upload_limits() -> SealUploadLimits:
    """The bounds of an uploaded seal image, from the SEALFLOW_SEAL_* settings."""
    from app.pdf import SealUploadLimits

    config = current_app.config
    return SealUploadLimits(
        max_bytes=config["SEAL_MAX_MB"] * 2**20, max_side_px=config["SEAL_MAX_SIDE_PX"],
        max_elements=config["SEAL_MAX_ELEMENTS"], max_depth=config["SEAL_MAX_DEPTH"],
        max_objects=config["SEAL_MAX_OBJECTS"], max_decoded_bytes=config["SEAL_MAX_DECODED_MB"] * 2**20,
        max_operations=config["SEAL_MAX_OPERATIONS"], render_seconds=config["SEAL_RENDER_SECONDS"],
        max_pixels=max(SealUploadLimits.max_pixels, config["SEAL_MAX_SIDE_PX"] ** 2),
    )


def prepare_image(image: SealImageSpec | bytes) -> PreparedImage:
    """Draw the image from a spec, or check and load an uploaded PNG, SVG or PDF (the bytes) within the upload
    limits; a hostile or useless file is an InvalidInput and nothing is kept."""
    from app.pdf import load_seal_image, render_seal_pdf, render_seal_svg

    with pdf_errors():
        if isinstance(image, bytes):
            return PreparedImage(load_seal_image(image, upload_limits()), "", "uploaded")
        return PreparedImage(render_seal_pdf(image), render_seal_svg(image), "drawn")


def first_version(seal_id: int, prepared: PreparedImage, created_by_id: int | None) -> SealImage:
    """Version 1 of a new seal's image (create_seal adds it with the seal)."""
    return SealImage(seal_id=seal_id, version=1, image_pdf=prepared.image_pdf, image_svg=prepared.image_svg,
                     sha256=prepared.sha256, source=prepared.source, created_by_id=created_by_id)


def _locked_seal(seal_id: int) -> Seal:
    """The seal, its row locked until the transaction ends (PostgreSQL; SQLite has one writer anyway), so that two
    administrators changing it at once take turns."""
    seal = db.session.execute(select(Seal).where(Seal.id == seal_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar()
    if seal is None:
        raise NotFound(f"seal {seal_id} does not exist")
    return seal


def add_image_version(seal_id: int, image: SealImageSpec | bytes, actor: Actor, note: str = "") -> SealImage:
    """Give the seal a new image: the next version, which every sealing from now on uses (a job already queued too:
    a job reads the image when it runs). Documents sealed before keep theirs; earlier versions stay viewable.
    Refused for a revoked seal."""
    note = note.strip()
    if len(note) > IMAGE_NOTE_LIMIT:
        raise InvalidInput(f"the note is longer than {IMAGE_NOTE_LIMIT} characters")
    # Checked and drawn before the seal is locked: an upload may take up to SEALFLOW_SEAL_RENDER_SECONDS.
    prepared = prepare_image(image)
    seal = _locked_seal(seal_id)
    if seal.status == SealStatus.REVOKED:
        raise PolicyViolation(f"the seal “{seal.name}” is revoked for good; its image is no longer changed")
    previous = seal.current_image
    version = seal.image_version + 1
    added = SealImage(seal_id=seal.id, version=version, image_pdf=prepared.image_pdf, image_svg=prepared.image_svg,
                      sha256=prepared.sha256, source=prepared.source, note=note or None, created_by_id=actor.user_id)
    db.session.add(added)
    seal.image_version = version
    db.session.flush()
    db.session.expire(seal, ["current_image"])
    record(actor, "seal.image_replaced", "seal", seal.id, version=version, sha256=added.sha256,
           source=added.source, previous_version=previous.version, previous_sha256=previous.sha256, note=note)
    return added


def image_versions(seal_id: int) -> list[SealImage]:
    """Every version of the seal's image, newest first (their bytes are read only when asked for)."""
    get_or_not_found(Seal, seal_id, "seal")
    return list(db.session.execute(select(SealImage).where(SealImage.seal_id == seal_id)
                                   .order_by(SealImage.version.desc())).scalars())


def image_version(seal_id: int, version: int) -> SealImage:
    """One version of the seal's image."""
    found = db.session.execute(select(SealImage).where(SealImage.seal_id == seal_id, SealImage.version == version)
                               ).scalar()
    if found is None:
        raise NotFound(f"seal {seal_id} has no image version {version}")
    return found


def preview_png(image: SealImage) -> bytes:
    """The image version as a transparent PNG for the web pages, at most 600 pixels a side (an upload's preview was
    timed before it was accepted)."""
    from app.pdf import render_seal_preview

    with pdf_errors():
        return render_seal_preview(image.image_pdf)

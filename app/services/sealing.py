"""Applying a seal to an approved application's document: stamp, then sign. Runs in a worker."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload

from app.errors import InvalidInput, InvalidTransition, NotFound, PolicyViolation
from app.extensions import db
from app.models import Document, DocumentKind, Seal, SealApplication, SealImage, User
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.services import audit, authorizations, documents, gate, seals
from app.services.documents import pdf_errors
from app.services.signing import sign_with_seal

if TYPE_CHECKING:  # app.pdf is imported where used: the web imports this module, the worker seals
    from app.pdf import ContentCheck, EveryPageSpec, KeywordSpec, SignatureField, StampPlan, StampSpec

SEAL_SIZE_MM = 40.0
# Without a keyword, the seal sits bottom-right on its page, as a reader sees it.
SEAL_X_MM, SEAL_Y_MM = 25.0, 30.0
# Parties' signatures in rows of three from the bottom-left, above the QR code.
PARTIES_PER_ROW, PARTY_X_MM, PARTY_Y_MM, PARTY_STEP_MM = 3, 20.0, 40.0, 60.0


def seal_placement(page: int, keyword: str | None) -> StampSpec | KeywordSpec:
    """Where the signing seal goes: centred on the last occurrence of the keyword, or on the page."""
    from app.pdf import KeywordSpec, StampSpec

    if keyword:
        return KeywordSpec(keyword, size_mm=SEAL_SIZE_MM, occurrence="last")
    return StampSpec(page=page, x_mm=SEAL_X_MM, y_mm=SEAL_Y_MM, size_mm=SEAL_SIZE_MM)


def check_placement(content: bytes, page: int, keyword: str | None, page_count: int) -> None:
    """Refuse at filing time a page or keyword the worker could not place the seal on."""
    if not keyword and not (1 <= page <= page_count or -page_count <= page <= -1):
        raise InvalidInput(f"page {page} does not exist; the document has {page_count} pages")
    if keyword:
        from app.pdf import place

        with pdf_errors():
            place(content, [(seal_placement(page, keyword), 1.0)], **documents.pdf_limits())


def verification_token(application_id: int) -> str:
    """An unguessable token for an application's public verification page (printed as a QR code)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"verify:{application_id}".encode(), hashlib.sha256).hexdigest()[:24]


def leader_page_seal() -> EveryPageSpec:
    """A leader's seal on every page: small, bottom-right, below the signature's box (which starts SEAL_Y_MM up)."""
    from app.pdf import EveryPageSpec

    return EveryPageSpec(x_mm=12.0, y_mm=6.0, size_mm=20.0)


def verification_url(application_id: int) -> str:
    return f"{current_app.config['PUBLIC_URL']}/verify/{application_id}/{verification_token(application_id)}"


def evidence(application: SealApplication, approvals: list[gate.Approval],
             image: SealImage | None = None) -> dict[str, Any]:
    """What the sealed PDF carries as proof (app/pdf/evidence.py): the application, the approvals that let the
    gate open (who, in which role, when, on which document), the audit chain's head at sealing time, and the seal
    image version stamped (when one seal's image is)."""
    from app.pdf import EVIDENCE_FORMAT

    proof = {
        "format": EVIDENCE_FORMAT,
        "organisation": current_app.config["ORGANISATION_NAME"],
        "application_id": application.id,
        "seal": application.seal.name,
        "document_type": application.document_type,
        "document_sha256": approvals[0].document_sha256 if approvals else None,
        "approvals": [{"level": a.level, "role": a.approver, "label": a.label, "name": a.decided_by,
                       "on_behalf_of": a.on_behalf_of, "at": a.decided_at.isoformat(timespec="seconds") + "Z"}
                      for a in approvals],
        "audit_chain_head": audit.chain_head(),
        "sealed_at": utcnow().isoformat(timespec="seconds") + "Z",
    }
    if image is not None:
        proof["seal_image"] = {"version": image.version, "sha256": image.sha256}
    return proof


def _requester_name(application: SealApplication) -> str:
    if "requester" not in inspect(application).unloaded:  # a sealing operator's application comes with it
        return application.requester.display_name
    # The name alone: loading the requester would load their roles too.
    return str(db.session.execute(select(User.display_name).where(User.id == application.requester_id)).scalar_one())


def stamp_plan(application: SealApplication, seal_pdf: bytes, page_count: int,
               proof: dict[str, Any] | None = None) -> StampPlan:
    """What is drawn before signing: riding seal and watermark when asked, and always the QR code; and the
    approval evidence embedded."""
    from app.pdf import QrSpec, RidingSpec, StampPlan, WatermarkSpec

    watermark = None
    if application.watermark:
        name = _requester_name(application)
        text = f"机密 CONFIDENTIAL · {name} · {utcnow():%Y-%m-%d}"
        watermark = WatermarkSpec(text)
    return StampPlan(
        seal_pdf=seal_pdf,
        riding=RidingSpec(size_mm=SEAL_SIZE_MM) if application.riding_seal and page_count > 1 else None,
        watermark=watermark,
        qr=QrSpec(verification_url(application.id), caption=f"#{application.id}"),
        evidence=proof,
    )


def _seal_and_sign(application: SealApplication, image: SealImage, content: bytes, check: ContentCheck | None,
                   page_count: int, proof: dict[str, Any], every_page: EveryPageSpec | None = None) -> bytes:
    from app.pdf import stamp

    seal = seals.usable_seal(application.seal_id)
    plan = replace(stamp_plan(application, image.image_pdf, page_count, proof), every_page=every_page)
    with pdf_errors():
        # The upload's check, kept on its blob, spares the walk of every page that inspection already made.
        stamped = stamp(content, plan, **documents.pdf_limits(), checked=check)
    return sign_with_seal(seal, stamped, f"SealFlow_{application.id}_{seal.id}", f"Seal application #{application.id}",
                          seal_placement(application.seal_page, application.seal_keyword),
                          certify=current_app.config["CERTIFY"], image=image)


# What every sealing operator reads of its application, in one statement: its seal and the seal's current image
# (with the image itself), its documents, and its requester's name (for a watermark; their roles are not read).
_SEALING_LOAD = (joinedload(SealApplication.seal).joinedload(Seal.current_image).undefer(SealImage.image_pdf),
                 joinedload(SealApplication.documents),
                 joinedload(SealApplication.requester).load_only(User.display_name).lazyload(User.roles))


def _application(params: dict[str, Any]) -> SealApplication:
    application = db.session.get(SealApplication, int(params["application_id"]), options=_SEALING_LOAD)
    if application is None:
        raise NotFound(f"application {params['application_id']} does not exist")
    return application


def _original(application: SealApplication) -> Document:
    original = application.document(DocumentKind.ORIGINAL)
    if original is None:
        raise NotFound(f"application {application.id} has no document")
    return original


def _result(document: Document) -> dict[str, Any]:
    return {"document_id": document.id, "version": document.version, "sha256": document.sha256}


def _seal_once(application: SealApplication, actor: Actor,
               seal_with: Callable[[SealImage, bytes, ContentCheck | None, int, dict[str, Any]], bytes],
               signer_id: int | None = None, authorization_id: int | None = None, **details: Any) -> dict[str, Any]:
    """Produce the sealed PDF from the original once, however often a (retried) job asks, and only through the
    sealing gate. The seal's image is the version current when the job runs (an image replaced after the
    approvals is the one used: approvals are about the seal, not its picture); the sealed document, its evidence
    and the audit event record which version it was."""
    done = application.document(DocumentKind.SEALED)
    if done is not None:
        return _result(done)
    original = _original(application)
    content, check = documents.read_checked(original)
    approvals = gate.check(application, original, content, signer_id, authorization_id, actor)
    image = seals.seal_for_signing(application.seal_id).current_image  # locked until the sealed PDF is kept
    proof = evidence(application, approvals, image)
    if authorization_id is not None:
        proof["signature_authorization"] = authorizations.evidence_of(authorization_id)
    signed = seal_with(image, content, check, original.page_count, proof)
    filename = f"{PurePath(original.filename).stem}-sealed.pdf"
    sealed = documents.add_document(application.id, DocumentKind.SEALED, filename, signed, original.page_count,
                                    seal_image_id=image.id)
    record(actor, "document.sealed", "seal_application", application.id, document_id=sealed.id,
           sha256=sealed.sha256, seal_id=application.seal_id, original_sha256=original.sha256,
           seal_image_version=image.version, seal_image_sha256=image.sha256,
           level=current_app.config["SIGNATURE_LEVEL"], approvals=[asdict(a) for a in approvals], **details)
    return _result(sealed)


def seal_document(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `seal_document`: produce the sealed PDF once, however often it is called."""
    application = _application(params)
    return _seal_once(application, actor,
                      lambda image, content, check, pages, proof: _seal_and_sign(application, image, content, check,
                                                                                 pages, proof))


def apply_leader_signature(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `apply_leader_signature`: the leader's seal on every page, then signed with it (once). The
    leader agrees by their own decision, or by the signature authorization named in `authorization_id`."""
    application = _application(params)
    authorization_id = params.get("authorization_id")
    if application.seal.owner_user_id is None:
        raise PolicyViolation(f"the seal “{application.seal.name}” belongs to no leader; a leader's signature "
                              "needs a personal or legal-representative seal")
    return _seal_once(application, actor,
                      lambda image, content, check, pages, proof: _seal_and_sign(application, image, content, check,
                                                                                 pages, proof, leader_page_seal()),
                      signer_id=application.seal.owner_user_id,
                      authorization_id=int(authorization_id) if authorization_id is not None else None,
                      every_page=True, leader_id=application.seal.owner_user_id)


def party_field(application_id: int, position: int) -> str:
    """The signature field of the party at that 0-based position in the signing order."""
    return f"SealFlow_{application_id}_party{position + 1}"


def party_seal(user_id: int, seal_id: int) -> Seal:
    """The usable seal a party signs with: one they hold, as its owner or one of its custodians; a person's
    signature (personal, legal representative) only its owner signs with."""
    seal = seals.seal_for_signing(seal_id)
    if not seal.is_held_by(user_id) or (seal.kind in seals.OWNED_KINDS and seal.owner_user_id != user_id):
        raise PolicyViolation(f"the seal “{seal.name}” is not held by that party; a party signs only with a seal "
                              "they own or keep")
    return seal


def _signing_order(parties: Any) -> list[tuple[int, int]]:
    """(user id, seal id) of each party, in signing order."""
    try:
        order = [(int(p["user_id"]), int(p["seal_id"])) for p in parties]
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidInput("the parties must be a list of {user_id, seal_id}, in signing order") from exc
    if len(set(order)) != len(order):
        raise InvalidInput("a party is listed twice with the same seal")
    return order


def _party_fields(application: SealApplication, content: bytes,
                  order: list[tuple[int, int]]) -> tuple[SignatureField, ...]:
    """Every party's empty signature field, in rows on the application's seal page."""
    from app.pdf import SignatureField, StampSpec, appearance_aspect, place

    wanted: list[tuple[StampSpec | KeywordSpec, float]] = []
    for position, (_, seal_id) in enumerate(order):
        row, column = divmod(position, PARTIES_PER_ROW)
        spec = StampSpec(page=application.seal_page, x_mm=PARTY_X_MM + column * PARTY_STEP_MM,
                         y_mm=PARTY_Y_MM + row * PARTY_STEP_MM, size_mm=SEAL_SIZE_MM, corner="bottom-left")
        wanted.append((spec, appearance_aspect(seals.get_seal(seal_id).image_pdf)))
    placements = place(content, wanted, **documents.pdf_limits())
    return tuple(SignatureField(party_field(application.id, position), found.page_index, found.rect)
                 for position, found in enumerate(placements))


def _prepared_for_parties(application: SealApplication, original: Document, content: bytes,
                          check: ContentCheck | None, order: list[tuple[int, int]], proof: dict[str, Any]) -> bytes:
    """The original, stamped (QR code; watermark and riding seal when asked) with every party's empty field, so
    that each signature only fills its own field and no earlier one sees the document change around it."""
    from app.pdf import add_signature_fields, stamp

    plan = stamp_plan(application, application.seal.image_pdf, original.page_count, proof)
    stamped = stamp(content, plan, **documents.pdf_limits(), checked=check)
    return add_signature_fields(stamped, _party_fields(application, stamped, order))


def add_party_signature(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Service operator `add_party_signature`: the party's seal signature added to the newest signed version as
    an incremental update (the first party's starts from the original), stored as the next version. Once per
    party: when the newest version already holds this party's signature, that version is the result."""
    from app.pdf import signed_field_names

    application = _application(params)
    order = _signing_order(params["parties"])
    party = (int(params["user_id"]), int(params["seal_id"]))
    if party not in order:
        raise InvalidInput(f"user {party[0]} with seal {party[1]} is not a party to application {application.id}")
    position = order.index(party)
    original = _original(application)
    latest = application.document(DocumentKind.SEALED)
    base = documents.read_content(latest) if latest is not None else b""
    with pdf_errors():
        signed_before = signed_field_names(base, current_app.config["MAX_PDF_PAGES"]) if latest is not None else set()
    if latest is not None and party_field(application.id, position) in signed_before:
        return _result(latest)
    waiting_for = [k + 1 for k in range(position) if party_field(application.id, k) not in signed_before]
    if waiting_for:
        raise InvalidTransition(f"party {position + 1} cannot sign before party {waiting_for[0]}")
    content, check = documents.read_checked(original)
    approvals = gate.check(application, original, content, signer_id=party[0])
    seal = party_seal(*party)
    image = seal.current_image
    if latest is None:
        with pdf_errors():
            base = _prepared_for_parties(application, original, content, check, order,
                                         evidence(application, approvals))
    signed = sign_with_seal(seal, base, party_field(application.id, position),
                            f"Party {position + 1} of {len(order)}, seal application #{application.id}",
                            certify=current_app.config["CERTIFY"] and latest is None, image=image)
    filename = f"{PurePath(original.filename).stem}-signed-{position + 1}.pdf"
    document = documents.add_document(application.id, DocumentKind.SEALED, filename, signed, original.page_count,
                                      seal_image_id=image.id)
    record(actor, "document.signed", "seal_application", application.id, document_id=document.id,
           version=document.version, sha256=document.sha256, party=position + 1, user_id=party[0], seal_id=party[1],
           seal_image_version=image.version, seal_image_sha256=image.sha256,
           previous_sha256=(latest or original).sha256, level=current_app.config["SIGNATURE_LEVEL"],
           approvals=[asdict(a) for a in approvals])
    return _result(document)

#!/usr/bin/env python3
"""Check a SealFlow audit bundle offline: `python3 verify_audit.py BUNDLE_DIR [--ca ca.pem] [--head HASH ...]`.

Needs only `cryptography` and `asn1crypto`; copy this one file to any machine. A bundle (`flask audit export`) holds:
- events.jsonl: every chained event, in chain order;
- anchors.jsonl: the chain heads time-stamped by a TSA (RFC 3161 tokens, base64 DER);
- state.json: the applications' statuses and the decided tasks when the bundle was made;
- pending.jsonl: events committed but not chained yet (at most a clock tick old): read for the state only;
- documents.jsonl: the chain head each sealed document carries in its signed evidence;
- ca.pem: the organisation's root certificate(s); tsa.pem: the time-stamp authority's certificate;
- manifest.json: when and by whom it was made.

It checks that each event's hash is its content's SHA-256 and names the event before it, that every anchor's token is
a valid time-stamp by a TSA certified by the CA over a head the chain still holds, that the chain still reaches every
anchor, that every head read off a sealed document (--head) is in the chain, and that the state agrees with the log.
Exit status 0 when all holds, 1 with one line per problem otherwise, 2 when the bundle cannot be read.

SealFlow's own `flask audit verify` runs these same functions on the live database, so the two cannot disagree.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# cryptography and asn1crypto are imported by the functions that check anchors and certificates: SealFlow imports
# this module for the chain's digest (app/models/audit.py), and its web workers start without them.
if TYPE_CHECKING:
    from asn1crypto import cms
    from cryptography import x509

GENESIS = "0" * 64
STATUSES = ("pending", "returned", "withdrawn", "rejected", "sealing", "sealed", "failed")


class BundleError(Exception):
    """The bundle cannot be read at all (missing or malformed files)."""


# --- events -----------------------------------------------------------------------------------------------------

def event_digest(event: dict[str, Any]) -> str:
    """An event's hash: SHA-256 of its canonical JSON (sorted keys, UTF-8), the previous event's hash included.
    The chain position (seq) is not hashed: the link to the previous hash fixes the order."""
    body = {"prev": event["prev"], "at": event["at"], "actor_id": event["actor_id"], "actor": event["actor"],
            "action": event["action"], "object": list(event["object"]), "address": event["address"],
            "details": event["details"]}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_chain(events: Sequence[dict[str, Any]]) -> list[str]:
    """Problems in the chain, the events given in chain order: positions 1, 2, 3 …, each naming the previous
    event's hash, each hash its content's."""
    problems: list[str] = []
    expected_prev = GENESIS
    for position, event in enumerate(events, start=1):
        label = f"event #{event.get('seq')} (id {event.get('id')})"
        if event.get("seq") != position:
            problems.append(f"{label}: at chain position {position}: events are missing, inserted or reordered")
        if event["prev"] != expected_prev:
            problems.append(f"{label}: does not follow the event before it")
        if event_digest(event) != event["hash"]:
            problems.append(f"{label}: its content does not match its hash (changed after it was written)")
        expected_prev = event["hash"]
    return problems


def check_heads(heads: Iterable[str], events: Sequence[dict[str, Any]], source: str = "a sealed document") -> list[str]:
    """Every chain head recorded elsewhere (in a sealed document) must still be an event of the chain."""
    known = {event["hash"] for event in events}
    return [f"the chain head {head} recorded in {source} is not in the log" for head in heads if head not in known]


# --- anchors ----------------------------------------------------------------------------------------------------

def _verify_signature(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        raise InvalidSignature(f"unsupported key type {type(key).__name__}")


def _tsa_certificate(signed_data: cms.SignedData, signer: cms.SignerInfo,
                     extra: Sequence[x509.Certificate]) -> x509.Certificate:
    from cryptography import x509

    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise ValueError("the token names its signer by key identifier, which this verifier does not follow")
    serial = sid.chosen["serial_number"].native
    carried = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"] or ()
               if c.name == "certificate"]
    for certificate in [*carried, *extra]:
        if certificate.serial_number == serial:
            return certificate
    raise ValueError("the token's signing certificate is neither in the token nor in the bundle")


def _check_certified(tsa: x509.Certificate, cas: Sequence[x509.Certificate], at: dt.datetime) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if not any(tsa.issuer == ca.subject and _issued_by(tsa, ca) for ca in cas):
        raise ValueError(f"the TSA certificate “{tsa.subject.rfc4514_string()}” is not issued by a trusted CA")
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        raise ValueError("the TSA certificate is not for time-stamping")
    if not tsa.not_valid_before_utc <= at <= tsa.not_valid_after_utc:
        raise ValueError("the time-stamp lies outside the TSA certificate's validity")


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def token_time(token_der: bytes, head: str, cas: Sequence[x509.Certificate],
               extra_certificates: Sequence[x509.Certificate] = ()) -> dt.datetime:
    """The time an RFC 3161 token vouches for, after checking that it is over `head` (the imprint is the head
    hash itself: the SHA-256 of the head event), that its signature is valid, and that its TSA is certified by one
    of `cas`. Raises ValueError naming what is wrong."""
    from asn1crypto import cms, tsp
    from cryptography.exceptions import InvalidSignature

    try:
        content = cms.ContentInfo.load(token_der)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data" or not isinstance(signed_data, cms.SignedData):
            raise ValueError("not a CMS SignedData")
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != "tst_info":
            raise ValueError("not a time-stamp token")
        tst_bytes = encapsulated["content"].parsed.dump()
        info = tsp.TSTInfo.load(tst_bytes)
        imprint = info["message_imprint"]
        (signer,) = signed_data["signer_infos"]
        attributes = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
        signed_attrs = signer["signed_attrs"].untag().dump(force=True)
        signature = signer["signature"].native
        generated: dt.datetime = info["gen_time"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"the token cannot be read ({exc})") from exc
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != bytes.fromhex(
            head):
        raise ValueError("the token is not over this head")
    if attributes.get("message_digest") != hashlib.sha256(tst_bytes).digest():
        raise ValueError("the token's content does not match its signature")
    certificate = _tsa_certificate(signed_data, signer, extra_certificates)
    try:
        _verify_signature(certificate, signature, signed_attrs)
    except InvalidSignature as exc:
        raise ValueError("the token's signature is not valid") from exc
    _check_certified(certificate, cas, generated)
    return generated


def check_anchors(anchors: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]],
                  cas: Sequence[x509.Certificate], tsa_certificates: Sequence[x509.Certificate] = ()) -> list[str]:
    """Every anchor's token is valid, over the hash the chain holds at the anchor's position; and the chain is at
    least as long as its newest anchor (events after an anchor were not deleted)."""
    problems: list[str] = []
    by_seq = {event["seq"]: event for event in events}
    for anchor in anchors:
        label = f"anchor of #{anchor['seq']} ({anchor.get('at')})"
        try:
            token_time(base64.b64decode(anchor["token"]), anchor["head"], cas, tsa_certificates)
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            continue
        event = by_seq.get(anchor["seq"])
        if event is None:
            problems.append(f"{label}: the log no longer holds event #{anchor['seq']}: events were deleted")
        elif event["hash"] != anchor["head"]:
            problems.append(f"{label}: the time-stamped head differs from event #{anchor['seq']}: the log was "
                            "rewritten")
    return problems


# --- the state against the log ----------------------------------------------------------------------------------

def _set_statuses(events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The status the log last set for each application (by id as text)."""
    statuses: dict[str, str] = {}
    for event in events:
        object_type, object_id = event["object"]
        if object_type != "seal_application":
            continue
        if event["action"] == "application.submitted":
            statuses[object_id] = "pending"
        elif event["action"].startswith("application.") and event["action"][len("application."):] in STATUSES:
            statuses[object_id] = event["action"][len("application."):]
    return statuses


def _decisions(events: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {event["details"].get("task_id"): event for event in events if event["action"] == "task.completed"}


def _task_problems(task: dict[str, Any], event: dict[str, Any] | None) -> list[str]:
    label = f"task {task['id']}"
    if task["state"] != "completed":
        return [f"{label} is {task['state']}, but the log records it decided"] if event else []
    if event is None:
        return [f"{label} is shown as decided, but the log has no decision for it"]
    details = event["details"]
    expected = {"decided by": (task["completed_by_id"], event["actor_id"]),
                "decision": (task["decision"], details.get("decision")),
                "on behalf of": (task["on_behalf_of_id"], details.get("on_behalf_of_id")),
                "document": (task["document_sha256"], details.get("document_sha256"))}
    return [f"{label}: {name} is {shown!r}, but the log (event #{event['seq']}) says {logged!r}"
            for name, (shown, logged) in expected.items() if shown != logged]


def check_state(events: Sequence[dict[str, Any]], state: dict[str, Any]) -> list[str]:
    """The applications' statuses and the tasks' decisions must be what the log says: a status the log never set,
    or a decision by someone the log does not name, is a problem."""
    problems: list[str] = []
    statuses = _set_statuses(events)
    for application in state.get("applications", ()):
        logged = statuses.get(str(application["id"]))
        if logged is None:
            problems.append(f"application {application['id']} is {application['status']}, but the log never filed it")
        elif logged != application["status"]:
            problems.append(f"application {application['id']} is {application['status']}, but the log last set it "
                            f"to {logged}")
    decisions = _decisions(events)
    for task in state.get("tasks", ()):
        problems += _task_problems(task, decisions.get(task["id"]))
    return problems


# --- the bundle -------------------------------------------------------------------------------------------------

def _json_lines(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: {exc}") from exc


def load_certificates(path: Path) -> list[x509.Certificate]:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: {exc}") from exc


def check_bundle(bundle: Path, cas: Sequence[x509.Certificate] | None = None, heads: Iterable[str] = ()) -> list[str]:
    """Every problem found in an exported bundle; `cas` pins the trusted roots (default: the bundle's ca.pem)."""
    events = _json_lines(bundle / "events.jsonl")
    anchors = _json_lines(bundle / "anchors.jsonl")
    try:
        state = json.loads((bundle / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"state.json: {exc}") from exc
    trusted = list(cas) if cas is not None else load_certificates(bundle / "ca.pem")
    tsa = load_certificates(bundle / "tsa.pem") if (bundle / "tsa.pem").exists() else []
    sealed = _json_lines(bundle / "documents.jsonl") if (bundle / "documents.jsonl").exists() else []
    pending = _json_lines(bundle / "pending.jsonl") if (bundle / "pending.jsonl").exists() else []
    try:
        problems = [*check_chain(events), *check_anchors(anchors, events, trusted, tsa), *check_heads(heads, events)]
        for item in sealed:
            problems += check_heads([item["head"]], events, f"the sealed document {item['document_id']} "
                                                            f"(application {item['application_id']})")
        return [*problems, *check_state([*events, *pending], state)]
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"a record lacks a field or has the wrong type: {exc!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a SealFlow audit bundle offline.")
    parser.add_argument("bundle", type=Path, help="the directory `flask audit export` wrote")
    parser.add_argument("--ca", type=Path, help="PEM file of the root(s) you trust (default: the bundle's ca.pem; "
                                                "compare its fingerprint below with the one you hold)")
    parser.add_argument("--head", action="append", default=[],
                        help="a chain head read off a sealed document (pdf verify prints it); repeatable")
    args = parser.parse_args(argv)
    try:
        cas = load_certificates(args.ca) if args.ca else load_certificates(args.bundle / "ca.pem")
        problems = check_bundle(args.bundle, cas, args.head)
        count = len(_json_lines(args.bundle / "events.jsonl"))
    except BundleError as exc:
        print(f"cannot read the bundle: {exc}", file=sys.stderr)
        return 2
    from cryptography.hazmat.primitives import hashes

    for ca in cas:
        print(f"trusted root: {ca.subject.rfc4514_string()} SHA-256 {ca.fingerprint(hashes.SHA256()).hex()}")
    for problem in problems:
        print(problem)
    print(f"{count} events checked: " + (f"{len(problems)} problem(s)" if problems else "the log is intact"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

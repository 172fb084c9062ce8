"""Seal keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2): signing with pyHanko's PKCS#11 signer,
generating a key inside the token, and storing the seal's certificate beside it.

The private key never leaves the token: it is generated there (or imported once) as sensitive and not
extractable, and every signature is computed by the token.

A PKCS#11 module keeps one login state per token and process, and pyHanko's session close logs the whole
process out of the token. So hold one open signer per token and process and reuse it for many documents;
a second `open_pkcs11_signer` on the same token while the first is open is refused with a SigningError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from asn1crypto import core as asn1_core
from asn1crypto.keys import ECDomainParameters
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.util.ec import decode_ec_private_key, encode_named_curve_parameters
from pkcs11.util.rsa import decode_rsa_private_key
from pkcs11.util.x509 import decode_x509_certificate
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers import Signer

from app.pki.ca import KeyAlgorithm, PrivateKey, PublicKey
from app.pki.errors import SigningError
from app.pki.trust import asn1_certificate

__all__ = [
    "Pkcs11KeySpec",
    "PublicKey",
    "generate_key_in_token",
    "import_key_to_token",
    "open_pkcs11_signer",
    "store_certificate_in_token",
]

SOFTHSM2_HINT = "for SoftHSM2 install the Debian package softhsm2 (module /usr/lib/softhsm/libsofthsm2.so)"


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """Where a seal's key lives in a PKCS#11 token.

    :param module_path: path of the PKCS#11 module (shared library) of the token's vendor.
    :param token_label: label of the token, as given when it was initialised.
    :param key_label: label (CKA_LABEL) of the private key; its public key and certificate carry the same CKA_ID.
    :param pin: the user PIN, or a function returning it (read from a secret store when the session opens).
    :param cert_label: label of the seal's certificate on the token; None means the key's label.
    """

    module_path: str
    token_label: str
    key_label: str
    pin: str | Callable[[], str] = field(repr=False)
    cert_label: str | None = None

    @property
    def certificate_label(self) -> str:
        return self.cert_label if self.cert_label is not None else self.key_label

    def user_pin(self) -> str:
        return self.pin() if callable(self.pin) else self.pin


def _load_module(spec: Pkcs11KeySpec) -> Any:
    if not os.path.isfile(spec.module_path):
        raise SigningError(f"PKCS#11 module {spec.module_path} does not exist; {SOFTHSM2_HINT}, or set the path "
                           "of your token vendor's module")
    try:
        return pkcs11.lib(spec.module_path)
    except pkcs11.PKCS11Error as exc:
        raise SigningError(f"cannot load the PKCS#11 module {spec.module_path}: {exc}") from exc


def _find_token(spec: Pkcs11KeySpec) -> pkcs11.Token:
    lib = _load_module(spec)
    tokens = list(lib.get_tokens())
    for token in tokens:
        if token.label == spec.token_label:
            return token
    known = ", ".join(repr(t.label) for t in tokens if t.label) or "none"
    raise SigningError(f"no PKCS#11 token labelled {spec.token_label!r} in {spec.module_path} (tokens found: {known})")


def _open_session(spec: Pkcs11KeySpec, rw: bool = False) -> pkcs11.Session:
    token = _find_token(spec)
    try:
        return token.open(rw=rw, user_pin=spec.user_pin())
    except (pkcs11.PinIncorrect, pkcs11.PinLenRange, pkcs11.PinInvalid) as exc:
        raise SigningError(f"wrong PIN for PKCS#11 token {spec.token_label!r}") from exc
    except pkcs11.PinLocked as exc:
        raise SigningError(f"the user PIN of PKCS#11 token {spec.token_label!r} is locked; "
                           "its security officer must reset it") from exc
    except pkcs11.PinExpired as exc:
        raise SigningError(f"the user PIN of PKCS#11 token {spec.token_label!r} has expired") from exc
    except pkcs11.UserAlreadyLoggedIn as exc:
        raise SigningError(f"PKCS#11 token {spec.token_label!r} already has an open session in this process; "
                           "reuse the open signer") from exc
    except pkcs11.PKCS11Error as exc:
        raise SigningError(f"cannot open a session on PKCS#11 token {spec.token_label!r}: "
                           f"{type(exc).__name__} {exc}") from exc


def _close_session(session: pkcs11.Session) -> None:
    try:
        session.close()
    except pkcs11.PKCS11Error:
        pass  # the token went away; nothing is left to release


def _objects(session: pkcs11.Session, object_class: ObjectClass, label: str) -> list[pkcs11.Object]:
    # The whole iterator is consumed so that the token's search operation terminates.
    return list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))


def _single(session: pkcs11.Session, object_class: ObjectClass, label: str, spec: Pkcs11KeySpec) -> pkcs11.Object:
    kind = {ObjectClass.PRIVATE_KEY: "private key", ObjectClass.CERTIFICATE: "certificate"}[object_class]
    found = _objects(session, object_class, label)
    if not found:
        raise SigningError(f"no {kind} labelled {label!r} on PKCS#11 token {spec.token_label!r}")
    if len(found) > 1:
        raise SigningError(f"{len(found)} objects of kind {kind} are labelled {label!r} on PKCS#11 token "
                           f"{spec.token_label!r}; labels must be unique")
    return found[0]


def _decode_ec_point(value: bytes) -> bytes:
    # The standard wants CKA_EC_POINT DER-wrapped in an OCTET STRING; some tokens return the raw point.
    if len(value) == 65 and value[0] == 4:
        return value
    return bytes(asn1_core.OctetString.load(value).native)


def _public_key_of(session: pkcs11.Session, private_key: pkcs11.Object, label: str) -> PublicKey | None:
    """The token's public key for a private key: RSA from the private key's own public attributes,
    EC from the public-key object with the same label (None when the token has none)."""
    if private_key[Attribute.KEY_TYPE] == KeyType.RSA:
        modulus = int.from_bytes(private_key[Attribute.MODULUS], "big")
        exponent = int.from_bytes(private_key[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    public = _objects(session, ObjectClass.PUBLIC_KEY, label)
    if private_key[Attribute.KEY_TYPE] != KeyType.EC or len(public) != 1:
        return None
    params = ECDomainParameters.load(public[0][Attribute.EC_PARAMS])
    if params.name != "named":
        return None
    curve = ec.get_curve_for_oid(x509.ObjectIdentifier(params.chosen.dotted))
    point = _decode_ec_point(public[0][Attribute.EC_POINT])
    return ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)


def _certifies(certificate: x509.Certificate, public_key: PublicKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return certificate.public_key().public_bytes(serialization.Encoding.DER, spki) == public_key.public_bytes(
        serialization.Encoding.DER, spki
    )


def _check_token_key_certified(
    session: pkcs11.Session, key: pkcs11.Object, certificate: x509.Certificate, spec: Pkcs11KeySpec
) -> None:
    public = _public_key_of(session, key, spec.key_label)
    if public is not None and not _certifies(certificate, public):
        raise SigningError(f"the certificate {certificate.subject.rfc4514_string()!r} does not belong to the key "
                           f"{spec.key_label!r} on PKCS#11 token {spec.token_label!r}")


def _signing_certificate(
    session: pkcs11.Session, spec: Pkcs11KeySpec, certificate: x509.Certificate | None
) -> x509.Certificate:
    if certificate is not None:
        return certificate
    obj = _single(session, ObjectClass.CERTIFICATE, spec.certificate_label, spec)
    return x509.load_der_x509_certificate(obj[Attribute.VALUE])


def _lacks_ecdsa_sha256(session: pkcs11.Session) -> bool:
    # SoftHSM2 2.6 (Debian 12) offers only raw CKM_ECDSA; pyHanko then hashes in software and the token signs.
    return pkcs11.Mechanism.ECDSA_SHA256 not in session.token.slot.get_mechanisms()


def _make_signer(
    session: pkcs11.Session,
    spec: Pkcs11KeySpec,
    chain: Sequence[x509.Certificate],
    certificate: x509.Certificate | None,
) -> Signer:
    key = _single(session, ObjectClass.PRIVATE_KEY, spec.key_label, spec)
    if not key[Attribute.SIGN]:
        raise SigningError(f"the key {spec.key_label!r} on PKCS#11 token {spec.token_label!r} may not sign")
    cert = _signing_certificate(session, spec, certificate)
    _check_token_key_certified(session, key, cert, spec)
    signer = PKCS11Signer(
        session,
        key_label=spec.key_label,
        signing_cert=asn1_certificate(cert),
        ca_chain=[asn1_certificate(c) for c in chain],
        use_raw_mechanism=key[Attribute.KEY_TYPE] == KeyType.EC and _lacks_ecdsa_sha256(session),
    )
    _ = signer.signing_cert  # looks up the key handle now, so a broken token fails here and not mid-signature
    return signer


@contextmanager
def open_pkcs11_signer(
    spec: Pkcs11KeySpec, chain: Sequence[x509.Certificate] = (), certificate: x509.Certificate | None = None
) -> Iterator[Signer]:
    """Open a session on the token and yield a pyHanko signer for the seal's key; the session closes on exit.

    :param spec: the token, key and PIN.
    :param chain: the certificates above the seal's (its CA up to the organisation root), embedded in signatures.
    :param certificate: the seal's certificate when it is not stored on the token (else read by `spec.cert_label`).
    :raises SigningError: the module, token, key or certificate is missing, the PIN is wrong, the certificate
        does not match the key, or the token fails while signing.
    """
    session = _open_session(spec)
    try:
        try:
            signer = _make_signer(session, spec, chain, certificate)
        except pkcs11.PKCS11Error as exc:
            raise SigningError(f"PKCS#11 token {spec.token_label!r}: {type(exc).__name__} {exc}") from exc
        try:
            yield signer
        except pkcs11.PKCS11Error as exc:
            raise SigningError(
                f"PKCS#11 token {spec.token_label!r} failed to sign: {type(exc).__name__} {exc}"
            ) from exc
    finally:
        _close_session(session)


def _refuse_existing_key(session: pkcs11.Session, spec: Pkcs11KeySpec) -> None:
    if _objects(session, ObjectClass.PRIVATE_KEY, spec.key_label):
        raise SigningError(f"PKCS#11 token {spec.token_label!r} already holds a key labelled {spec.key_label!r}")


# The private key may sign and nothing else, and no one can read it out of the token.
_PRIVATE_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
_PUBLIC_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
}
_EC_PARAMS = encode_named_curve_parameters("secp256r1")


def _key_id(session: pkcs11.Session) -> bytes:
    return bytes(session.generate_random(128))


def generate_key_in_token(spec: Pkcs11KeySpec, algorithm: KeyAlgorithm = "rsa2048") -> PublicKey:
    """Generate the seal's key pair inside the token (sensitive, not extractable) and return its public key,
    for the CA to certify with `app.pki.ca.certify_seal_key`.

    :raises SigningError: the token cannot be opened, or already holds a key with this label.
    """
    session = _open_session(spec, rw=True)
    try:
        _refuse_existing_key(session, spec)
        options: dict[str, Any] = {
            "id": _key_id(session), "label": spec.key_label, "store": True,
            "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
            "public_template": _PUBLIC_TEMPLATE, "private_template": _PRIVATE_TEMPLATE,
        }
        if algorithm == "rsa2048":
            session.generate_keypair(KeyType.RSA, 2048, **options)
        elif algorithm == "ec-p256":
            params = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: _EC_PARAMS}, local=True)
            params.generate_keypair(**options)
        else:
            raise SigningError(f"unknown key algorithm {algorithm!r}; use rsa2048 or ec-p256")
        key = _single(session, ObjectClass.PRIVATE_KEY, spec.key_label, spec)
        public = _public_key_of(session, key, spec.key_label)
        assert public is not None  # both objects were just created under this label
        return public
    except pkcs11.PKCS11Error as exc:
        raise SigningError(f"PKCS#11 token {spec.token_label!r} could not generate a {algorithm} key: "
                           f"{type(exc).__name__} {exc}") from exc
    finally:
        _close_session(session)


def _private_key_attributes(key: PrivateKey) -> dict[Attribute, Any]:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    if isinstance(key, rsa.RSAPrivateKey):
        return decode_rsa_private_key(der)
    if not isinstance(key.curve, ec.SECP256R1):
        raise SigningError(f"unsupported curve {key.curve.name}; use P-256")
    return decode_ec_private_key(der)


def _public_key_attributes(public: PublicKey) -> dict[Attribute, Any]:
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {
            Attribute.KEY_TYPE: KeyType.RSA,
            Attribute.MODULUS: numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"),
            Attribute.PUBLIC_EXPONENT: numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"),
        }
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        Attribute.KEY_TYPE: KeyType.EC,
        Attribute.EC_PARAMS: _EC_PARAMS,
        Attribute.EC_POINT: asn1_core.OctetString(point).dump(),
    }


def _certificate_attributes(spec: Pkcs11KeySpec, certificate: x509.Certificate, key_id: bytes) -> dict[Attribute, Any]:
    attributes = decode_x509_certificate(certificate.public_bytes(serialization.Encoding.DER))
    attributes.update({Attribute.TOKEN: True, Attribute.LABEL: spec.certificate_label, Attribute.ID: key_id})
    return attributes


def import_key_to_token(spec: Pkcs11KeySpec, key: PrivateKey, certificate: x509.Certificate) -> None:
    """Move an existing seal key and its certificate into the token (for seals created before the token);
    the token keeps the key sensitive and not extractable. Afterwards, destroy the key's other copies.

    :raises SigningError: the token cannot be opened, already holds a key with this label, or refuses the key.
    """
    if not _certifies(certificate, key.public_key()):
        raise SigningError("the certificate does not belong to the key being imported")
    session = _open_session(spec, rw=True)
    try:
        _refuse_existing_key(session, spec)
        key_id = _key_id(session)
        common = {Attribute.LABEL: spec.key_label, Attribute.ID: key_id}
        session.create_object({**_private_key_attributes(key), **_PRIVATE_TEMPLATE, **common})
        public = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, **_public_key_attributes(key.public_key())}
        session.create_object({**public, **_PUBLIC_TEMPLATE, **common})
        session.create_object(_certificate_attributes(spec, certificate, key_id))
    except pkcs11.PKCS11Error as exc:
        raise SigningError(f"PKCS#11 token {spec.token_label!r} refused the key: {type(exc).__name__} {exc}") from exc
    finally:
        _close_session(session)


def store_certificate_in_token(spec: Pkcs11KeySpec, certificate: x509.Certificate) -> None:
    """Store the seal's certificate on the token beside its key (label `spec.cert_label`, the key's CKA_ID).

    :raises SigningError: no such key, the certificate is for another key, or one with this label exists already.
    """
    session = _open_session(spec, rw=True)
    try:
        key = _single(session, ObjectClass.PRIVATE_KEY, spec.key_label, spec)
        _check_token_key_certified(session, key, certificate, spec)
        if _objects(session, ObjectClass.CERTIFICATE, spec.certificate_label):
            raise SigningError(f"PKCS#11 token {spec.token_label!r} already holds a certificate labelled "
                               f"{spec.certificate_label!r}")
        session.create_object(_certificate_attributes(spec, certificate, key[Attribute.ID]))
    except pkcs11.PKCS11Error as exc:
        raise SigningError(f"PKCS#11 token {spec.token_label!r} refused the certificate: "
                           f"{type(exc).__name__} {exc}") from exc
    finally:
        _close_session(session)

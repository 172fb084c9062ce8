"""What signing costs to prepare, kept in this process's memory only: keys decrypted once (RSA-2048 costs about 40 ms
to decrypt and check), the time-stamp authority built on one, and the last CRL signed. Nothing here is ever written
to Redis, the database or a file, and nothing here is trusted without the database's say: a key is found by a digest
of its encrypted bytes as the database holds them now (with the secret that opens them), so a renewed key or one
moved to a token is simply not found; keys.py drops the entries of seals that changed (revoked, suspended, renewed,
moved) whenever it reads their rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

from app import pki  # decrypt_key on first use: app.pki.ca imports cryptography

if TYPE_CHECKING:
    from cryptography import x509

    from app.pki import PrivateKey

# Seals' keys, the root's, the TSA's and the system seal's: far more than an organisation has, few enough to bound.
KEY_LIMIT = 256
# A cached CRL is replaced once less than this share of its validity is left (its nextUpdate nears).
CRL_REFRESH_SHARE = 0.5

_lock = threading.RLock()
_keys: OrderedDict[bytes, PrivateKey] = OrderedDict()
# Which cached key (by digest) belongs to which seal, so that a seal's change drops it.
_seal_keys: dict[int, bytes] = {}
_crl: tuple[Hashable, x509.CertificateRevocationList] | None = None
_derived: OrderedDict[tuple[str, Hashable], object] = OrderedDict()

T = TypeVar("T")


def digest(encrypted: bytes, secret: str) -> bytes:
    """What a cached key is found by: its encrypted bytes and the secret that opens them."""
    secret_bytes = secret.encode("utf-8")
    return hashlib.sha256(len(secret_bytes).to_bytes(4, "big") + secret_bytes + encrypted).digest()


def decrypted(encrypted: bytes, secret: str, seal_id: int | None = None) -> PrivateKey:
    """The key, decrypted on first use in this process; `seal_id` names the seal it belongs to, if any."""
    found = digest(encrypted, secret)
    with _lock:
        key = _keys.get(found)
        if key is not None:
            _keys.move_to_end(found)
    if key is None:
        key = pki.decrypt_key(encrypted, secret)  # outside the lock: other threads' keys need not wait for this one
        with _lock:
            _keys[found] = key
            while len(_keys) > KEY_LIMIT:
                _forget_digest(next(iter(_keys)))
    if seal_id is not None:
        with _lock:
            if _seal_keys.get(seal_id) not in (None, found):
                _forget_digest(_seal_keys[seal_id])
            _seal_keys[seal_id] = found
    return key


def derived(kind: str, key: Hashable, make: Callable[[], T]) -> T:
    """An object built from cached keys (the TSA, a signer), kept beside them under a key naming everything it was
    built from; dropped with them."""
    with _lock:
        found = _derived.get((kind, key))
        if found is not None:
            _derived.move_to_end((kind, key))
            return found  # type: ignore[return-value]
    made = make()
    with _lock:
        _derived[(kind, key)] = made
        while len(_derived) > KEY_LIMIT:
            _derived.popitem(last=False)
    return made


def cached_seals() -> dict[int, bytes]:
    """Seal id → the digest of the key this process keeps for it."""
    with _lock:
        return dict(_seal_keys)


def forget_seal(seal_id: int) -> None:
    """Drop the seal's key (and whatever was built on it) from this process."""
    with _lock:
        found = _seal_keys.pop(seal_id, None)
        if found is not None:
            _forget_digest(found)


def _forget_digest(found: bytes) -> None:
    _keys.pop(found, None)
    for seal_id in [s for s, d in _seal_keys.items() if d == found]:
        del _seal_keys[seal_id]
    for entry in [e for e in _derived if found in _flatten(e[1])]:
        del _derived[entry]


def _flatten(key: Hashable) -> tuple[Hashable, ...]:
    return tuple(key) if isinstance(key, tuple) else (key,)


def crl(state: Hashable, make: Callable[[], x509.CertificateRevocationList]) -> x509.CertificateRevocationList:
    """The CRL signed for this revocation state (the revoked certificates as the database lists them now, and the
    root), made again when the state differs or its nextUpdate nears."""
    global _crl
    with _lock:
        kept = _crl
    if kept is not None and kept[0] == state and _fresh(kept[1]):
        return kept[1]
    made = make()
    with _lock:
        _crl = (state, made)
    return made


def _fresh(crl_: x509.CertificateRevocationList) -> bool:
    issued, until = crl_.last_update_utc, crl_.next_update_utc
    if until is None:
        return False
    now = dt.datetime.now(dt.UTC)
    return now < until - (until - issued) * CRL_REFRESH_SHARE


def clear() -> None:
    """Forget everything (a process that wants no keys in memory, or a test that starts afresh)."""
    global _crl
    with _lock:
        _keys.clear()
        _seal_keys.clear()
        _derived.clear()
        _crl = None

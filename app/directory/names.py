"""Distinguished names (RFC 4514) read for comparison: split into RDNs, escapes undone, case folded.

Only SealFlow compares names this way; what it sends to a server is always the server's own spelling."""

from __future__ import annotations

from app.directory.errors import DirectoryError

_HEX = "0123456789abcdefABCDEF"


def _unescape(value: str) -> str:
    """An attribute value with RFC 4514's escapes undone (`\\,` and `\\2C` alike; hex pairs are UTF-8 bytes)."""
    out = bytearray()
    i = 0
    while i < len(value):
        char, pair = value[i], value[i + 1:i + 3]
        if char == "\\" and len(pair) == 2 and all(c in _HEX for c in pair):
            out.append(int(pair, 16))
            i += 3
        elif char == "\\" and i + 1 < len(value):
            out.extend(value[i + 1].encode())
            i += 2
        else:
            out.extend(char.encode())
            i += 1
    return out.decode("utf-8", errors="replace")


def split_dn(dn: str) -> list[tuple[str, str]]:
    """The attribute type (lower case) and value (unescaped, stripped) of each RDN component, leftmost first; a
    multi-valued RDN (`cn=a+uid=b`) gives one pair per value. DirectoryError for text that is not a DN."""
    parts: list[tuple[str, str]] = []
    current = ""
    escaped = False
    for char in dn + ",":
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char in ",+":
            name, equals, value = current.partition("=")
            if not equals or not name.strip():
                raise DirectoryError(f"not a distinguished name: {dn!r}")
            parts.append((name.strip().lower(), _unescape(value.strip())))
            current = ""
        else:
            current += char
    return parts


def normalize_dn(dn: str) -> str:
    """A DN's comparable form: `uid=Ann, OU=Sales,dc=Example` and `uid=ann,ou=sales,dc=example` are equal."""
    return ",".join(f"{name}={value.casefold()}" for name, value in split_dn(dn))


def departments_in_dn(dn: str, base: str) -> tuple[str, ...]:
    """The `ou` values between an entry and the base it was found under, nearest first: a person at
    `uid=ann,ou=Sales,ou=Head Office,ou=people,dc=example,dc=org` below `ou=people,dc=example,dc=org` is in
    Sales, which is in Head Office. Containers at or above the base are not departments."""
    entry, top = split_dn(dn), split_dn(base)
    folded = [(name, value.casefold()) for name, value in entry]
    if top and folded[-len(top):] == [(name, value.casefold()) for name, value in top]:
        entry = entry[:len(entry) - len(top)]
    return tuple(value for name, value in entry[1:] if name == "ou" and value)

"""The organisation's public-key infrastructure: its root CA and seal certificates, the revocation list, the
time-stamp authority, PKCS#11 tokens and the trust roots a validator starts from.

No Flask and no database here; errors leave as the PkiError family. Each name is imported from its module on first
use (app/lazy_imports.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_imports import export_lazily

if TYPE_CHECKING:
    from pyhanko.sign.signers import Signer  # the type of what signs: a loaded key or a token session
    from pyhanko.sign.timestamps import TimeStamper  # the type of what time-stamps: SealFlow's TSA or an external one

    from app.pki.ca import (
        CertifiedKey,
        KeyAlgorithm,
        PrivateKey,
        PublicKey,
        RevocationSpec,
        certify_seal_key,
        create_crl,
        create_root_ca,
        decrypt_key,
        encrypt_key,
        issue_seal_certificate,
        issue_tsa_certificate,
        load_certificate,
    )
    from app.pki.errors import PkiError, SigningError, TimeStampError
    from app.pki.pkcs11 import (
        Pkcs11KeySpec,
        generate_key_in_token,
        import_key_to_token,
        open_pkcs11_signer,
        store_certificate_in_token,
    )
    from app.pki.trust import asn1_certificate, validation_context
    from app.pki.tsa import (
        SEALFLOW_TSA_POLICY_OID,
        LocalTimeStamper,
        TimeStampAuthority,
        external_timestamper,
        time_stamp_token,
    )

_MODULES: dict[str, tuple[str, ...]] = {
    "pyhanko.sign.signers": ("Signer",),
    "pyhanko.sign.timestamps": ("TimeStamper",),
    ".ca": (
        "CertifiedKey",
        "KeyAlgorithm",
        "PrivateKey",
        "PublicKey",
        "RevocationSpec",
        "certify_seal_key",
        "create_crl",
        "create_root_ca",
        "decrypt_key",
        "encrypt_key",
        "issue_seal_certificate",
        "issue_tsa_certificate",
        "load_certificate",
    ),
    ".errors": ("PkiError", "SigningError", "TimeStampError"),
    ".pkcs11": (
        "Pkcs11KeySpec",
        "generate_key_in_token",
        "import_key_to_token",
        "open_pkcs11_signer",
        "store_certificate_in_token",
    ),
    ".trust": ("asn1_certificate", "validation_context"),
    ".tsa": (
        "SEALFLOW_TSA_POLICY_OID",
        "LocalTimeStamper",
        "TimeStampAuthority",
        "external_timestamper",
        "time_stamp_token",
    ),
}

export_lazily(__name__, _MODULES)

__all__ = [
    "SEALFLOW_TSA_POLICY_OID",
    "CertifiedKey",
    "KeyAlgorithm",
    "LocalTimeStamper",
    "PkiError",
    "Pkcs11KeySpec",
    "PrivateKey",
    "PublicKey",
    "RevocationSpec",
    "Signer",
    "SigningError",
    "TimeStampAuthority",
    "TimeStampError",
    "TimeStamper",
    "asn1_certificate",
    "certify_seal_key",
    "create_crl",
    "create_root_ca",
    "decrypt_key",
    "encrypt_key",
    "external_timestamper",
    "time_stamp_token",
    "generate_key_in_token",
    "import_key_to_token",
    "issue_seal_certificate",
    "issue_tsa_certificate",
    "load_certificate",
    "open_pkcs11_signer",
    "store_certificate_in_token",
    "validation_context",
]

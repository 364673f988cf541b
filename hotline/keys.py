"""This installation's keys, as files in ``<data_dir>/keys``.

==================  =========================================================
``data.key``        AES-256 data key that seals the evidence store
``signing.key/.pub``  Ed25519: signs every bundle we send
``inbox.key/.pub``    X25519: partners encrypt the bundles they send us to it
``drop.key/.pub``     X25519: recipient key of the local drop, created so the
                      demo and tests can open their own bundles until real
                      recipients (INTERPOL, partners) are configured
==================  =========================================================

Private keys are written once, mode 0600, and never overwritten.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from evidence import new_data_key, write_data_key
from exports.keys import (
    fingerprint,
    generate_encryption_key,
    generate_signing_key,
    load_ed25519_private_key,
    load_ed25519_public_key,
    load_x25519_public_key,
    save_private_key,
    save_public_key,
)


class InstallationKeys:
    """Paths to, and loaders of, the keys in one keys folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def create(cls, folder: Path) -> InstallationKeys:
        """Create every key that does not exist yet; existing keys are kept."""
        keys = cls(folder)
        keys.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not keys.data_key_path.exists():
            write_data_key(keys.data_key_path, new_data_key())
        for stem, generate in (("signing", generate_signing_key), ("inbox", generate_encryption_key),
                               ("drop", generate_encryption_key)):
            private = keys.folder / f"{stem}.key"
            if not private.exists():
                key = generate()
                save_private_key(private, key)
                save_public_key(keys.folder / f"{stem}.pub", key.public_key())
        return keys

    @property
    def data_key_path(self) -> Path:
        return self.folder / "data.key"

    @property
    def drop_private_path(self) -> Path:
        return self.folder / "drop.key"

    def signing_private(self) -> Ed25519PrivateKey:
        return load_ed25519_private_key(self.folder / "signing.key")

    def signing_public(self) -> Ed25519PublicKey:
        return load_ed25519_public_key(self.folder / "signing.pub")

    def drop_public(self) -> X25519PublicKey:
        return load_x25519_public_key(self.folder / "drop.pub")

    def inbox_public(self) -> X25519PublicKey:
        return load_x25519_public_key(self.folder / "inbox.pub")

    def describe(self) -> dict[str, str]:
        """Fingerprints of the public keys, for people and partners (never the private keys)."""
        return {
            "signing": fingerprint(self.signing_public()),
            "inbox": fingerprint(self.inbox_public()),
            "drop": fingerprint(self.drop_public()),
        }

"""This installation's keys, as files in ``<data_dir>/keys``.

==================  =========================================================
``data.key``        AES-256 data key that seals the evidence store
``signing.key/.pub``  Ed25519: signs every bundle we send
``inbox.key/.pub``    X25519: partners encrypt the bundles they send us to it
``drop.key/.pub``     X25519: recipient key of the local drop, created so the
                      demo and tests can open their own bundles until real
                      recipients (INTERPOL, partners) are configured
==================  =========================================================

Private keys are written once, mode 0600, and never overwritten. ``rotate`` retires a key
pair into ``retired/<name>-<fingerprint>.key/.pub`` and creates a new one: retired inbox and
drop keys still open the bundles that were encrypted to them while in flight, retired signing
keys still verify what we signed before (partners add our new signing key to theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from evidence import new_data_key, write_data_key
from exports.errors import KeyFileError
from exports.key_files import (
    PrivateKey,
    fingerprint,
    generate_encryption_key,
    generate_signing_key,
    load_ed25519_private_key,
    load_ed25519_public_key,
    load_x25519_private_key,
    load_x25519_public_key,
    save_private_key,
    save_public_key,
)

ROTATABLE = ("signing", "inbox", "drop")
_GENERATE: dict[str, Callable[[], PrivateKey]] = {
    "signing": generate_signing_key, "inbox": generate_encryption_key, "drop": generate_encryption_key,
}


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
        for stem in ROTATABLE:
            if not (keys.folder / f"{stem}.key").exists():
                keys._generate(stem)
        return keys

    def _generate(self, stem: str) -> str:
        key = _GENERATE[stem]()
        save_private_key(self.folder / f"{stem}.key", key)
        save_public_key(self.folder / f"{stem}.pub", key.public_key())
        return fingerprint(key.public_key())

    @property
    def retired_dir(self) -> Path:
        return self.folder / "retired"

    def rotate(self, stem: str) -> tuple[str, str]:
        """Retire the ``stem`` key pair (signing, inbox or drop) and create a new one;
        returns the old and the new public key's fingerprint."""
        if stem not in ROTATABLE:
            raise ValueError(f"cannot rotate {stem!r}; rotatable keys: {', '.join(ROTATABLE)}")
        pub = self.folder / f"{stem}.pub"
        old = fingerprint(load_ed25519_public_key(pub) if stem == "signing" else load_x25519_public_key(pub))
        self.retired_dir.mkdir(mode=0o700, exist_ok=True)
        for suffix in (".key", ".pub"):
            target = self.retired_dir / f"{stem}-{old}{suffix}"
            if target.exists():
                raise KeyFileError(f"key file {str(target)!r} already exists; refusing to overwrite")
            (self.folder / f"{stem}{suffix}").rename(target)
        return old, self._generate(stem)

    def _retired(self, stem: str, suffix: str) -> list[Path]:
        return sorted(self.retired_dir.glob(f"{stem}-*{suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)

    def receiving_keys(self) -> list[X25519PrivateKey]:
        """Every private key a bundle to us may be encrypted to: inbox and drop, current
        and retired (newest first)."""
        paths = [self.folder / "inbox.key", self.drop_private_path,
                 *self._retired("inbox", ".key"), *self._retired("drop", ".key")]
        return [load_x25519_private_key(p) for p in paths]

    def signing_publics(self) -> list[Ed25519PublicKey]:
        """Our signing keys, current first then retired: what verifies bundles we sent."""
        return [self.signing_public(), *(load_ed25519_public_key(p) for p in self._retired("signing", ".pub"))]

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

    def public_files(self) -> dict[str, Path]:
        """The public key files partners need: our signing key and our inbox key (PEM)."""
        return {stem: self.folder / f"{stem}.pub" for stem in ROTATABLE}

    def retired(self) -> dict[str, list[str]]:
        """Fingerprints of the retired keys, newest first."""
        return {stem: [p.name.removeprefix(f"{stem}-").removesuffix(".pub") for p in self._retired(stem, ".pub")]
                for stem in ROTATABLE}

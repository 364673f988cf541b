"""Key files and fingerprints for bundles.

A hotline holds two key pairs: an Ed25519 *signing* key (it signs the bundles it sends) and
an X25519 *encryption* key (partners encrypt bundles to its public half). Private keys are
stored as unencrypted PKCS#8 PEM readable by the owner only (mode 0600); public keys as
SubjectPublicKeyInfo PEM. Saving never overwrites an existing file.

A fingerprint is the first 16 hex digits of SHA-256 over the raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from exports.errors import KeyFileError

PrivateKey = Ed25519PrivateKey | X25519PrivateKey
PublicKey = Ed25519PublicKey | X25519PublicKey
FINGERPRINT_HEX_DIGITS = 16

_KIND: dict[type, str] = {
    Ed25519PrivateKey: "Ed25519 private key",
    Ed25519PublicKey: "Ed25519 public key",
    X25519PrivateKey: "X25519 private key",
    X25519PublicKey: "X25519 public key",
}


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key pair for signing bundles (``.public_key()`` goes to partners)."""
    return Ed25519PrivateKey.generate()


def generate_encryption_key() -> X25519PrivateKey:
    """A fresh X25519 key pair for receiving bundles (``.public_key()`` goes to partners)."""
    return X25519PrivateKey.generate()


def raw_public_bytes(key: PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 or X25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key bytes."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[
        :FINGERPRINT_HEX_DIGITS
    ]


def save_private_key(path: Path, key: PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, mode 0600; refuse if ``path`` exists."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(Path(path), pem, 0o600)


def save_public_key(path: Path, key: PublicKey) -> None:
    """Write ``key`` as SubjectPublicKeyInfo PEM, mode 0644; refuse if ``path`` exists."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(Path(path), pem, 0o644)


def load_ed25519_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a signing key written by :func:`save_private_key`."""
    key = _load_private(Path(path))
    if not isinstance(key, Ed25519PrivateKey):
        raise _wrong_kind(path, key, Ed25519PrivateKey)
    return key


def load_x25519_private_key(path: Path) -> X25519PrivateKey:
    """Load an encryption (receiving) key written by :func:`save_private_key`."""
    key = _load_private(Path(path))
    if not isinstance(key, X25519PrivateKey):
        raise _wrong_kind(path, key, X25519PrivateKey)
    return key


def load_ed25519_public_key(path: Path) -> Ed25519PublicKey:
    """Load a partner's signature-verification key written by :func:`save_public_key`."""
    key = _load_public(Path(path))
    if not isinstance(key, Ed25519PublicKey):
        raise _wrong_kind(path, key, Ed25519PublicKey)
    return key


def load_x25519_public_key(path: Path) -> X25519PublicKey:
    """Load a partner's encryption key written by :func:`save_public_key`."""
    key = _load_public(Path(path))
    if not isinstance(key, X25519PublicKey):
        raise _wrong_kind(path, key, X25519PublicKey)
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(
            f"key file {str(path)!r} already exists; refusing to overwrite"
        ) from None
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)  # the umask may only narrow it; make it exact
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"key file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise KeyFileError(
            f"key file {str(path)!r} cannot be read: {exc.strerror}"
        ) from None


def _load_private(path: Path) -> object:
    data = _read(path)
    if b"PRIVATE KEY-----" not in data:
        raise KeyFileError(f"key file {str(path)!r} does not hold a PEM private key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"key file {str(path)!r} is password-protected") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(
            f"key file {str(path)!r} is not a usable private key: {exc}"
        ) from None


def _load_public(path: Path) -> object:
    data = _read(path)
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise KeyFileError(f"key file {str(path)!r} does not hold a PEM public key")
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(
            f"key file {str(path)!r} is not a usable public key: {exc}"
        ) from None


def _wrong_kind(path: Path, key: object, wanted: type) -> KeyFileError:
    found = next(
        (name for cls, name in _KIND.items() if isinstance(key, cls)),
        type(key).__name__,
    )
    return KeyFileError(
        f"key file {str(path)!r} holds a {found}, expected a {_KIND[wanted]}"
    )

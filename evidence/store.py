"""Content-addressed, encrypted media storage.

On-disk format of one object (``<root>/<aa>/<bb>/<sha256>``)::

    b"HLE1" | nonce (12 bytes) | AES-256-GCM(ciphertext || tag)

with associated data ``b"hotline-evidence:" + sha256_hex``. Writes go to a temporary
file of ciphertext in the same folder and are renamed into place, so a crash leaves
either the whole object or none of it, and a second write of the same bytes is a no-op.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence.errors import EvidenceNotFound, EvidenceTampered

MAGIC = b"HLE1"
NONCE_SIZE = 12
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class EvidenceStore(Protocol):
    """What every evidence backend offers."""

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256 hex; storing the same bytes again is a no-op."""

    def add(self, data: bytes) -> tuple[str, bool]:
        """:meth:`put` that also says whether the object is new (``False``: it was
        already stored and nothing was written)."""

    def get(self, sha256: str) -> bytes:
        """Return the plaintext stored under ``sha256`` (raises EvidenceNotFound/EvidenceTampered)."""

    def exists(self, sha256: str) -> bool:
        """Whether an object is stored under ``sha256``."""

    def delete(self, sha256: str) -> bool:
        """Remove the object; returns whether it existed."""

    def objects(self, start: str = "") -> Iterator[tuple[str, int]]:
        """Every stored object as (SHA-256, stored bytes), in SHA-256 order from ``start``
        on: the store can be walked in parts, or from a random place to sample it."""


def new_data_key() -> bytes:
    """A fresh 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def load_data_key(path: Path) -> bytes:
    """Read a data key file written by ``write_data_key`` (base64 of 32 bytes)."""
    raw = base64.b64decode(Path(path).read_text().strip())
    if len(raw) != 32:
        raise ValueError(f"data key {str(path)!r} must hold 32 bytes, holds {len(raw)}")
    return raw


def write_data_key(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` readable by the owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")


def _check_id(sha256: str) -> str:
    if not _SHA256_RE.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def _aad(sha256: str) -> bytes:
    return b"hotline-evidence:" + sha256.encode()


def seal(key: bytes, sha256: str, data: bytes) -> bytes:
    """Encrypt ``data`` for storage under ``sha256``."""
    nonce = os.urandom(NONCE_SIZE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, _aad(sha256))


def unseal(key: bytes, sha256: str, blob: bytes) -> bytes:
    """Decrypt and verify an object sealed by :func:`seal`."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_SIZE + 16:
        raise EvidenceTampered(f"evidence object {sha256!r} is not in the HLE1 format")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_SIZE]
    try:
        data = AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_SIZE :], _aad(sha256))
    except InvalidTag:
        raise EvidenceTampered(f"evidence object {sha256!r} failed authentication") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EvidenceTampered(f"evidence object {sha256!r} does not hash to its name")
    return data


class LocalEvidenceStore:
    """Encrypted objects in a local directory."""

    def __init__(self, root: Path, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the evidence data key must be 32 bytes")
        self.root = Path(root)
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return f"LocalEvidenceStore({str(self.root)!r})"

    def path_for(self, sha256: str) -> Path:
        _check_id(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        return self.add(data)[0]

    def add(self, data: bytes) -> tuple[str, bool]:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha256)
        if path.exists():
            return sha256, False
        blob = seal(self._key, sha256, data)
        # a name no other writer uses: concurrent writes of the same object both succeed
        tmp = path.parent / f".tmp-{sha256[:16]}-{threading.get_ident():x}-{os.urandom(4).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:  # the object's folder is made on first use only
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
        try:
            try:
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha256, True

    def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise EvidenceNotFound(sha256) from None
        return unseal(self._key, sha256, blob)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def delete(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def objects(self, start: str = "") -> Iterator[tuple[str, int]]:
        # names sort as their folders do (aa/bb/aabb...), so whole folders below ``start`` are skipped
        for top in _sorted_names(self.root, start[:2]):
            for sub in _sorted_names(self.root / top, start[2:4] if top == start[:2] else ""):
                for name in _sorted_names(self.root / top / sub, start if top + sub == start[:4] else ""):
                    if _SHA256_RE.match(name):  # not the temporary files of writes in flight
                        try:
                            yield name, (self.root / top / sub / name).stat().st_size
                        except FileNotFoundError:  # deleted meanwhile
                            continue


def _sorted_names(folder: Path, start: str) -> list[str]:
    """Entries of ``folder`` from ``start`` on, sorted; none when it does not exist."""
    try:
        return sorted(n for n in os.listdir(folder) if n >= start)
    except FileNotFoundError:
        return []

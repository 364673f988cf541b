"""Where finished bundles go: the Destination seam and a local (or mounted) drop directory.

A destination only ever receives finished bundle files, which are already encrypted and
signed; it refuses anything that does not start with the bundle magic, so a plaintext file
cannot be dropped by mistake. Delivery is idempotent: the same name with the same bytes is
a no-op, the same name with different bytes is a :class:`DeliveryConflict`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from exports.errors import DeliveryConflict, DeliveryError
from exports.format import MAGIC


class Destination(Protocol):
    """A place bundles are delivered to (a drop directory now; S3 and SFTP later)."""

    def deliver(self, path: Path, name: str) -> str:
        """Put the bundle file at ``path`` there as ``name``; return where it now is."""
        ...

    def exists(self, name: str) -> bool:
        """Whether a bundle called ``name`` is already there."""
        ...


@dataclass(frozen=True)
class LocalDirectoryDrop:
    """Copies bundles into ``root`` atomically: temp file in ``root``, fsync, rename.

    ``root`` must already exist: a missing drop (say, an unmounted share) is an error,
    not something to create. Temp files are named ``.<name>.*.part``.
    """

    root: Path
    file_mode: int = 0o640

    def deliver(self, path: Path, name: str) -> str:
        path, target = Path(path), self._target(name)
        _check_bundle_file(path)
        if not self.root.is_dir():
            raise DeliveryError(f"drop directory {str(self.root)!r} does not exist")
        if target.exists():
            if _same_bytes(path, target):
                return str(target)
            raise DeliveryConflict(
                f"{str(target)!r} already exists with different content"
            )
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fchmod(out.fileno(), self.file_mode)
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        return str(target)

    def exists(self, name: str) -> bool:
        return self._target(name).is_file()

    def _target(self, name: str) -> Path:
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise ValueError(
                f"bundle name {name!r} must be a plain file name not starting with '.'"
            )
        return Path(self.root) / name


def _check_bundle_file(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(len(MAGIC))
    except OSError as exc:
        raise DeliveryError(
            f"cannot read bundle {str(path)!r}: {exc.strerror}"
        ) from None
    if head != MAGIC:
        raise DeliveryError(
            f"{str(path)!r} is not a bundle file (starts with {head!r}); refusing to deliver"
        )


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return _sha256(a) == _sha256(b)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

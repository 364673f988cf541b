"""Where finished bundles go, and where partners' bundles arrive: the Destination seam, a
local (or mounted) directory, and S3 (``exports.s3``), chosen by :func:`destination_for`.

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
from typing import Any, Protocol

from exports.errors import DeliveryConflict, DeliveryError
from exports.format import MAGIC


class Destination(Protocol):
    """A place bundles are delivered to and picked up from: a directory or S3."""

    def deliver(self, path: Path, name: str) -> str:
        """Put the bundle file at ``path`` there as ``name``; return where it now is."""
        ...

    def exists(self, name: str) -> bool:
        """Whether a bundle called ``name`` is already there."""
        ...

    def locate(self, name: str) -> str:
        """Where a bundle called ``name`` is (or would be) there."""
        ...

    def list_bundles(self) -> list[str]:
        """Names of the bundle files (``*.hlb``) there, oldest first."""
        ...

    def fetch(self, name: str, into: Path) -> Path:
        """Copy bundle ``name`` (encrypted as it is) to the local file ``into``."""
        ...


def destination_for(where: str, endpoint_url: str | None = None, **s3: Any) -> Destination:
    """``s3://bucket/prefix`` -> :class:`~exports.s3.S3Destination` (``s3`` keyword arguments
    go to it); anything else is a local directory path."""
    if where.startswith("s3://"):
        from exports.s3 import S3Destination

        return S3Destination.from_url(where, endpoint_url, **s3)
    if "://" in where:
        raise ValueError(f"destination {where!r} is neither s3://bucket/prefix nor a directory path")
    return LocalDirectoryDrop(Path(where))


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
        check_bundle_file(path)
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

    def locate(self, name: str) -> str:
        return str(self._target(name))

    def list_bundles(self) -> list[str]:
        if not self.root.is_dir():
            raise DeliveryError(f"directory {str(self.root)!r} does not exist")
        found = [p for p in self.root.glob("*.hlb") if p.is_file() and not p.name.startswith(".")]
        return [p.name for p in sorted(found, key=lambda p: (p.stat().st_mtime, p.name))]

    def fetch(self, name: str, into: Path) -> Path:
        shutil.copyfile(self._target(name), into)
        return Path(into)

    def _target(self, name: str) -> Path:
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise ValueError(
                f"bundle name {name!r} must be a plain file name not starting with '.'"
            )
        return Path(self.root) / name


def check_bundle_file(path: Path) -> None:
    """Refuse to deliver anything that does not start with the bundle magic."""
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
    return sha256_of_file(a) == sha256_of_file(b)


def sha256_of_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

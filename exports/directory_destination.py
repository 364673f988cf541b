"""A local (or mounted) directory as a destination for bundles and a source of inbound ones:
a path without a scheme, or a ``file:`` URL."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from exports.destinations import (
    DestinationOptions,
    check_bundle_file,
    check_bundle_name,
    register_destination,
    sha256_of_file,
)
from exports.errors import DeliveryConflict, DeliveryError


@dataclass(frozen=True)
class LocalDirectoryDrop:
    """Copies bundles into ``root`` atomically: temp file in ``root``, fsync, rename.

    ``root`` must already exist: a missing drop (say, an unmounted share) is an error,
    not something to create. Temp files are named ``.<name>.*.part``.
    """

    root: Path
    file_mode: int = 0o640

    @classmethod
    def from_location(cls, where: str, options: DestinationOptions) -> LocalDirectoryDrop:
        """``/srv/drop``, ``drop`` or ``file:///srv/drop`` (``options`` do not apply)."""
        if not where.startswith("file:"):
            return cls(Path(where))
        url = urlsplit(where)
        if url.netloc not in ("", "localhost") or not url.path:
            raise ValueError(f"destination {where!r} is not a file: URL of a local directory")
        return cls(Path(unquote(url.path)))

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
        return Path(self.root) / check_bundle_name(name)


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return sha256_of_file(a) == sha256_of_file(b)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


register_destination("", LocalDirectoryDrop.from_location)
register_destination("file", LocalDirectoryDrop.from_location)

"""Where finished bundles go, and where partners' bundles arrive: the Destination seam and
the registry that picks one by the URL scheme of a location (:func:`destination_for`).

Each kind of destination lives in a module of its own and registers itself here with
:func:`register_destination`: ``exports.directory_destination`` (a path without a scheme, or
``file:``) and ``exports.s3_destination`` (``s3://bucket/prefix``), each imported when its
scheme is first asked for (``_BUILT_IN``: an export to a directory need not load boto3).
Adding one is adding such a module; nothing else here names a kind.

A destination only ever receives finished bundle files, which are already encrypted and
signed; it refuses anything that does not start with the bundle magic
(:func:`check_bundle_file`), so a plaintext file cannot be dropped by mistake. Delivery is
idempotent: the same name with the same bytes is a no-op, the same name with different bytes
is a :class:`DeliveryConflict`.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from evidence.spec import S3Budget
from exports.errors import DeliveryError
from exports.format import MAGIC


@runtime_checkable
class Destination(Protocol):
    """A place bundles are delivered to and picked up from."""

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


@runtime_checkable
class StreamingDestination(Destination, Protocol):
    """A destination that takes a bundle while it is being written, so no copy is written
    locally; the upload becomes visible only when the stream is completed."""

    def open_stream(self, name: str) -> BundleStream:
        """A stream to write bundle ``name`` into."""
        ...

    def discard_incomplete(self, name: str) -> None:
        """Remove what a run that died mid-stream left of ``name``."""
        ...


class BundleStream(Protocol):
    """The writing end of a streamed delivery."""

    def write(self, data: bytes | memoryview) -> int: ...

    def complete(self) -> str:
        """Make the bundle visible under its name (the commit point); returns where it is."""
        ...

    def abort(self) -> None:
        """Give up: nothing becomes visible under the bundle's name."""
        ...


@dataclass(frozen=True)
class DestinationOptions:
    """What an installation's settings say about reaching destinations; each kind takes
    what applies to it and ignores the rest."""

    endpoint_url: str | None = None  # object stores: the endpoint (None: AWS)
    part_size: int = 8 << 20  # object stores: the size of an upload's parts
    budget: S3Budget = field(default_factory=S3Budget)  # object stores: timeouts and attempts per request


Opener = Callable[[str, DestinationOptions], Destination]
_OPENERS: dict[str, Opener] = {}
# The modules of the kinds that come with hotline, by scheme: imported on first use.
_BUILT_IN = {"": "exports.directory_destination", "file": "exports.directory_destination",
             "s3": "exports.s3_destination"}


def register_destination(scheme: str, opener: Opener) -> None:
    """Locations ``<scheme>://...`` (``scheme`` "": a path without one) are opened by
    ``opener(location, options)``."""
    scheme = scheme.lower()
    if _OPENERS.get(scheme, opener) != opener:  # the same opener again (a module imported twice) is fine
        raise ValueError(f"the destination scheme {scheme!r} is registered already")
    _OPENERS[scheme] = opener


def scheme_of(where: str) -> str:
    """``s3://b/p`` -> ``s3``; ``file:/srv/drop`` -> ``file``; ``/srv/drop`` -> ``""``."""
    if "://" in where:
        return where.split("://", 1)[0].lower()
    return "file" if where.startswith("file:") else ""


def destination_for(where: str, options: DestinationOptions | None = None) -> Destination:
    """The destination at ``where``, by its scheme."""
    scheme = scheme_of(where)
    if scheme not in _OPENERS and scheme in _BUILT_IN:
        importlib.import_module(_BUILT_IN[scheme])  # it registers itself
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}:" for s in sorted({*_OPENERS, *_BUILT_IN}) if s)
        raise ValueError(f"destination {where!r}: no destination is registered for {scheme + ':'!r} "
                         f"(known: {known}, or a directory path)")
    return opener(where, options or DestinationOptions())


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


def check_bundle_name(name: str) -> str:
    """``name`` if it is a plain file name not starting with '.', else ValueError."""
    if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ValueError(f"bundle name {name!r} must be a plain file name not starting with '.'")
    return name


def sha256_of_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size

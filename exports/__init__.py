"""Exports: bundles of confirmed items for INTERPOL and partner hotlines, and takedown
notices to abuse contacts.

One job: build, encrypt, sign, deliver and open bundles, the files hotline exchanges with
the INTERPOL drop and partner hotlines, and e-mail the notices hosts without a partner get.
The byte format is specified in ``docs/bundle-format.md``; plaintext media never touches the disk on either side.

Modules: ``key_files`` (Ed25519/X25519 key files and fingerprints), ``format`` (the wire
format's pure pieces), ``chunks`` (streaming chunk encryption and verification), ``bundle``
(write and open), ``destinations`` (the seam: a registry of destinations by URL scheme),
``directory_destination`` (directories), ``s3_destination`` (S3 destinations and inbound
prefixes), ``outbound`` (routes and the outbox: build, deliver, record), ``hashsets``
(Parquet and VICS JSON hash sets), ``inbound`` (import a partner's bundle), ``statistics``
(monthly statistics bundles for the network's coordinator), ``opening``
(open a bundle file with key files), ``abuse_notices`` (route, compose and e-mail takedown
notices to abuse contacts, through an outbox).

May import: the standard library, ``cryptography``, ``boto3``, ``pyarrow``, ``catalog`` and
``evidence`` (its S3 URL parsing, refusals and client budget).
Imported by ``hotline`` and ``flows``; it imports no other hotline package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from exports.errors import (
    BundleError,
    BundleMalformed,
    BundleNotForUs,
    BundleReplayed,
    BundleTampered,
    BundleTruncated,
    DeliveryConflict,
    DeliveryError,
    DeliveryRefused,
    ExportError,
    KeyFileError,
    UnknownSender,
    UnsupportedBundle,
)

if TYPE_CHECKING:
    from exports.bundle import (
        BundleInfo,
        Member,
        OpenedBundle,
        iter_bundle_files,
        iter_bundle_media,
        open_bundle,
        read_bundle,
        write_bundle,
    )
    from exports.destinations import Destination, DestinationOptions, destination_for, register_destination
    from exports.directory_destination import LocalDirectoryDrop
    from exports.key_files import fingerprint
    from exports.opening import open_bundle_file
    from exports.outbound import Delivery, Route, build_manifest, export_pending
    from exports.s3_destination import S3Destination

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
_SUBMODULE_OF = {
    "BundleInfo": "exports.bundle",
    "Member": "exports.bundle",
    "OpenedBundle": "exports.bundle",
    "iter_bundle_files": "exports.bundle",
    "iter_bundle_media": "exports.bundle",
    "open_bundle": "exports.bundle",
    "read_bundle": "exports.bundle",
    "write_bundle": "exports.bundle",
    "Destination": "exports.destinations",
    "DestinationOptions": "exports.destinations",
    "destination_for": "exports.destinations",
    "register_destination": "exports.destinations",
    "LocalDirectoryDrop": "exports.directory_destination",
    "fingerprint": "exports.key_files",
    "open_bundle_file": "exports.opening",
    "Delivery": "exports.outbound",
    "Route": "exports.outbound",
    "build_manifest": "exports.outbound",
    "export_pending": "exports.outbound",
    "S3Destination": "exports.s3_destination",
}


def __getattr__(name: str) -> Any:
    module = _SUBMODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without this hook
    return value


__all__ = [
    "BundleError",
    "BundleInfo",
    "BundleMalformed",
    "BundleNotForUs",
    "BundleReplayed",
    "BundleTampered",
    "BundleTruncated",
    "Delivery",
    "DeliveryConflict",
    "DeliveryRefused",
    "DeliveryError",
    "Destination",
    "DestinationOptions",
    "ExportError",
    "KeyFileError",
    "LocalDirectoryDrop",
    "Member",
    "OpenedBundle",
    "Route",
    "S3Destination",
    "UnknownSender",
    "UnsupportedBundle",
    "build_manifest",
    "destination_for",
    "export_pending",
    "fingerprint",
    "iter_bundle_files",
    "iter_bundle_media",
    "open_bundle",
    "open_bundle_file",
    "read_bundle",
    "register_destination",
    "write_bundle",
]

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

from typing import TYPE_CHECKING

import lazy_loader

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
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "bundle": [
        "BundleInfo", "Member", "OpenedBundle", "iter_bundle_files", "iter_bundle_media", "open_bundle",
        "read_bundle", "write_bundle",
    ],
    "destinations": ["Destination", "DestinationOptions", "destination_for", "register_destination"],
    "directory_destination": ["LocalDirectoryDrop"],
    "key_files": ["fingerprint"],
    "opening": ["open_bundle_file"],
    "outbound": ["Delivery", "Route", "build_manifest", "export_pending"],
    "s3_destination": ["S3Destination"],
})[0]


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

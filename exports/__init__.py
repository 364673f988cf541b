"""Exports: bundles of confirmed items for INTERPOL and partner hotlines.

One job: build, encrypt, sign, deliver and open bundles, the files hotline exchanges with
the INTERPOL drop and partner hotlines. The byte format is specified in
``docs/bundle-format.md``; plaintext media never touches the disk on either side.

Modules: ``keys`` (Ed25519/X25519 key files and fingerprints), ``format`` (the wire
format's pure pieces), ``chunks`` (streaming chunk encryption and verification),
``bundle`` (write and open), ``destinations`` (where finished bundles go), ``outbound`` (the outbox: build, deliver,
record), ``opening`` (open a bundle file with key files).

May import: the standard library, ``cryptography`` and ``catalog``. Imported by
``flows``; it imports no other hotline package.
"""

from exports.bundle import (
    BundleInfo,
    OpenedBundle,
    iter_bundle_media,
    open_bundle,
    write_bundle,
)
from exports.destinations import Destination, LocalDirectoryDrop
from exports.errors import (
    BundleError,
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    BundleTruncated,
    DeliveryConflict,
    DeliveryError,
    ExportError,
    KeyFileError,
    UnknownSender,
    UnsupportedBundle,
)
from exports.keys import fingerprint
from exports.outbound import Delivery, build_manifest, export_pending
from exports.opening import open_bundle_file

__all__ = [
    "Delivery",
    "build_manifest",
    "export_pending",
    "open_bundle_file",
    "BundleError",
    "BundleInfo",
    "BundleMalformed",
    "BundleNotForUs",
    "BundleTampered",
    "BundleTruncated",
    "DeliveryConflict",
    "DeliveryError",
    "Destination",
    "ExportError",
    "KeyFileError",
    "LocalDirectoryDrop",
    "OpenedBundle",
    "UnknownSender",
    "UnsupportedBundle",
    "fingerprint",
    "iter_bundle_media",
    "open_bundle",
    "write_bundle",
]

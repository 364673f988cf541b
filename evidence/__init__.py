"""The evidence store: media bytes, content-addressed by SHA-256 and encrypted at rest.

One job: keep media so that plaintext never touches disk. Every object is sealed with
AES-256-GCM under this installation's data key, its SHA-256 bound in as associated data,
so a file swapped for another or altered on disk is refused on read. Stores sit behind
the small ``EvidenceStore`` interface so a bucket can replace the directory.

May import: the standard library, ``cryptography`` and ``boto3``. Imports no other hotline package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evidence.errors import EvidenceError, EvidenceNotFound, EvidenceTampered, EvidenceUnavailable
from evidence.spec import EvidenceSpec
from evidence.store import (
    EvidenceStore,
    LocalEvidenceStore,
    load_data_key,
    new_data_key,
    write_data_key,
)

if TYPE_CHECKING:
    from evidence.s3 import S3EvidenceStore


def __getattr__(name: str) -> Any:
    """``S3EvidenceStore`` loads on first use: boto3 takes a crawl worker, which starts once
    per report, a fifth of a second to import, and only the S3 store needs it."""
    if name != "S3EvidenceStore":
        raise AttributeError(f"module 'evidence' has no attribute {name!r}")
    from evidence.s3 import S3EvidenceStore

    return S3EvidenceStore


__all__ = [
    "EvidenceError",
    "EvidenceNotFound",
    "EvidenceSpec",
    "EvidenceStore",
    "EvidenceTampered",
    "EvidenceUnavailable",
    "LocalEvidenceStore",
    "S3EvidenceStore",
    "load_data_key",
    "new_data_key",
    "write_data_key",
]

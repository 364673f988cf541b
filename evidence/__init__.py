"""The evidence store: media bytes, content-addressed by SHA-256 and encrypted at rest.

One job: keep media so that plaintext never touches disk. Every object is sealed with
AES-256-GCM under this installation's data key, its SHA-256 bound in as associated data,
so a file swapped for another or altered on disk is refused on read. Stores sit behind
the small ``EvidenceStore`` interface so a bucket can replace the directory.

May import: the standard library, ``cryptography`` and ``boto3``. Imports no other hotline package.
"""

from evidence.errors import EvidenceError, EvidenceNotFound, EvidenceTampered, EvidenceUnavailable
from evidence.s3 import S3EvidenceStore
from evidence.spec import EvidenceSpec
from evidence.store import (
    EvidenceStore,
    LocalEvidenceStore,
    load_data_key,
    new_data_key,
    write_data_key,
)

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

"""hashing: turn media bytes into hashes, and match hashes against known-hash sets.

One job, two halves. ``hash_image`` decodes untrusted image bytes safely and returns
``ImageHashes`` (md5, sha1, sha256, PDQ with quality, pHash); ``Matcher`` finds those
hashes in known-hash sets imported with ``import_known_set``. Hashes cross every
boundary as lowercase hex strings. Each algorithm is one ``SignalType`` in
``hashing/signals/``; errors are in ``hashing/errors.py``.

May import: ``catalog``, ``evidence`` (errors), Pillow, imagehash, pdqhash, NumPy, PyArrow, DuckDB.
Nothing here does network I/O or knows about flows, spiders or exports.
"""

from __future__ import annotations

from hashing.decode import (
    DEFAULT_FORMATS,
    DEFAULT_MAX_PIXELS,
    DecodeConfig,
    decode_image,
)
from hashing.errors import (
    CorruptImageError,
    EmptyImageError,
    HashingError,
    ImageDecodeError,
    ImageTooLargeError,
    InvalidHashError,
    KnownSetError,
    UnsupportedImageError,
)
from hashing.image import HashingConfig, ImageHashes, hash_image, hash_images
from hashing.known import (
    KnownSet,
    KnownSetFile,
    Matcher,
    PdqHit,
    PdqIndex,
    import_known_set,
)
from hashing.stored import HashBatch, hash_stored_media, match_stored_media
from hashing.signals import (
    PDQ_MATCH_THRESHOLD,
    SIGNAL_TYPES,
    SignalType,
    get_signal_type,
    pdq_distance,
)

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "PDQ_MATCH_THRESHOLD",
    "SIGNAL_TYPES",
    "CorruptImageError",
    "DecodeConfig",
    "EmptyImageError",
    "HashBatch",
    "HashingConfig",
    "HashingError",
    "ImageDecodeError",
    "ImageHashes",
    "ImageTooLargeError",
    "InvalidHashError",
    "KnownSet",
    "KnownSetError",
    "KnownSetFile",
    "Matcher",
    "PdqHit",
    "PdqIndex",
    "SignalType",
    "UnsupportedImageError",
    "decode_image",
    "get_signal_type",
    "hash_image",
    "hash_images",
    "hash_stored_media",
    "match_stored_media",
    "import_known_set",
    "pdq_distance",
]

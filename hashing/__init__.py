"""hashing: turn media bytes into hashes, and match hashes against known-hash sets.

One job, two halves, both driven by the signal types: each algorithm is one
``SignalType`` in ``hashing/signals/`` (PDQ with its indexes in ``signals/pdq/``), and
``SIGNAL_TYPES`` decides what is hashed, stored, imported from known sets and matched.
``hash_media`` decodes untrusted bytes safely, as an image or a video by what the bytes
are: ``hash_image`` returns ``ImageHashes`` (md5, sha1, sha256, PDQ with quality and its
eight dihedral variants, pHash, the untrimmed PDQ when a uniform border was cut off,
per-frame PDQ of animations); ``hash_video`` returns ``VideoHashes`` (digests, PDQ of
frames sampled by time after black bars are removed). ``Matcher`` finds those hashes in
known-hash sets imported with ``import_known_set`` (``hashing/knownsets/``; one module a
format in ``knownsets/formats/``), each signal type through its index (PDQ's persisted
multi-index ``SetIndex``), digests exactly, videos the vPDQ way. Hashes cross every
boundary as lowercase hex strings; errors are in ``hashing/errors.py``. See
docs/hashing.md.

May import: ``catalog``, ``evidence`` (errors), Pillow, imagehash, pdqhash, PyAV, NumPy,
PyArrow, DuckDB. Nothing here does network I/O or knows about flows, spiders or exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

from hashing.errors import (
    CorruptImageError,
    CorruptVideoError,
    EmptyImageError,
    EmptyVideoError,
    HashingError,
    ImageDecodeError,
    ImageTooLargeError,
    InvalidHashError,
    KnownSetError,
    NoVideoStreamError,
    UnsupportedImageError,
    VideoDecodeError,
)

if TYPE_CHECKING:
    from hashing.decided import match_decided
    from hashing.decode import (
        DEFAULT_FORMATS,
        DEFAULT_MAX_PIXELS,
        DecodeConfig,
        decode_image,
    )
    from hashing.frames import FrameHash, VpdqResult, compare_frames
    from hashing.image import HashingConfig, ImageHashes, hash_image, hash_images
    from hashing.knownsets import (
        FORMATS,
        KnownSet,
        KnownSetFile,
        Matcher,
        delete_set_index,
        import_known_set,
        open_set_index,
    )
    from hashing.media import MediaConfig, MediaHashes, hash_media
    from hashing.signals import (
        PDQ_MATCH_THRESHOLD,
        SIGNAL_TYPES,
        SignalType,
        get_signal_type,
        pdq_distance,
    )
    from hashing.signals.pdq import MihIndex, PdqHit, PdqIndex, SetIndex
    from hashing.stored import HashBatch, hash_stored_media, known_sets_of, match_stored_media
    from hashing.video import VideoConfig, VideoHashes, hash_video

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "decided": ["match_decided"],
    "decode": ["DEFAULT_FORMATS", "DEFAULT_MAX_PIXELS", "DecodeConfig", "decode_image"],
    "frames": ["FrameHash", "VpdqResult", "compare_frames"],
    "image": ["HashingConfig", "ImageHashes", "hash_image", "hash_images"],
    "knownsets": [
        "FORMATS", "KnownSet", "KnownSetFile", "Matcher", "delete_set_index", "import_known_set", "open_set_index",
    ],
    "media": ["MediaConfig", "MediaHashes", "hash_media"],
    "signals": ["PDQ_MATCH_THRESHOLD", "SIGNAL_TYPES", "SignalType", "get_signal_type", "pdq_distance"],
    "signals.pdq": ["MihIndex", "PdqHit", "PdqIndex", "SetIndex"],
    "stored": ["HashBatch", "hash_stored_media", "known_sets_of", "match_stored_media"],
    "video": ["VideoConfig", "VideoHashes", "hash_video"],
})[0]


__all__ = [
    "FORMATS",
    "CorruptVideoError",
    "EmptyVideoError",
    "FrameHash",
    "MediaConfig",
    "MediaHashes",
    "MihIndex",
    "NoVideoStreamError",
    "SetIndex",
    "VideoConfig",
    "VideoDecodeError",
    "VideoHashes",
    "VpdqResult",
    "compare_frames",
    "delete_set_index",
    "hash_media",
    "hash_video",
    "known_sets_of",
    "open_set_index",
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
    "match_decided",
    "match_stored_media",
    "import_known_set",
    "pdq_distance",
]

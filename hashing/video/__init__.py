"""Video: frames sampled by time, black bars removed, PDQ per frame (vPDQ), digests of
the bytes, and a videohash-style collage hash as a secondary signal."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashing.video.frame_sampling import sample_frames
    from hashing.video.hashes import VideoConfig, VideoHashes, hash_video

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
_SUBMODULE_OF = {
    "sample_frames": "hashing.video.frame_sampling",
    "VideoConfig": "hashing.video.hashes",
    "VideoHashes": "hashing.video.hashes",
    "hash_video": "hashing.video.hashes",
}


def __getattr__(name: str) -> Any:
    module = _SUBMODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without this hook
    return value


__all__ = ["VideoConfig", "VideoHashes", "hash_video", "sample_frames"]

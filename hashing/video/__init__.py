"""Video: frames sampled by time, black bars removed, PDQ per frame (vPDQ), digests of
the bytes, and a videohash-style collage hash as a secondary signal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from hashing.video.frame_sampling import sample_frames
    from hashing.video.hashes import VideoConfig, VideoHashes, hash_video

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "frame_sampling": ["sample_frames"],
    "hashes": ["VideoConfig", "VideoHashes", "hash_video"],
})[0]


__all__ = ["VideoConfig", "VideoHashes", "hash_video", "sample_frames"]

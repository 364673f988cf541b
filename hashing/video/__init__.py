"""Video: frames sampled by time, black bars removed, PDQ per frame (vPDQ), digests of
the bytes, and a videohash-style collage hash as a secondary signal."""

from hashing.video.frame_sampling import sample_frames
from hashing.video.hashes import VideoConfig, VideoHashes, hash_video

__all__ = ["VideoConfig", "VideoHashes", "hash_video", "sample_frames"]

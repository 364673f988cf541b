"""Video hashing: frames sampled by time with PyAV, black bars removed, PDQ per frame,
vPDQ comparison, bad input, and conformance with Meta's vPDQ reference output.

Only benign inputs: clips synthesised here and the public vectors in shared/vectors.
"""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import pytest
from synthetic import synthetic_audio, synthetic_video, truncated_video

from hashing import (
    CorruptVideoError,
    EmptyVideoError,
    FrameHash,
    NoVideoStreamError,
    VideoConfig,
    VideoDecodeError,
    VideoHashes,
    compare_frames,
    hash_media,
    hash_video,
    pdq_distance,
)
from hashing.video.frame_sampling import SampleConfig

VIDEO_VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "video"
VIDEOS = sorted(VIDEO_VECTORS.glob("*.mp4"))
KNOWN_MISSES = {
    # (a, b): why vPDQ at one frame a second does not pair them
    ("chair-19-sd-bar", "chair-20-sd-bar"): "a different cut: 1 fps samples fall between the other's",
    ("chair-19-sd-bar", "chair-22-sd-grey-bar"): "a different cut",
    ("chair-19-sd-bar", "chair-22-sd-sepia-bar"): "a different cut",
    ("chair-19-sd-bar", "chair-22-with-small-logo-bar"): "a different cut",
    ("chair-19-sd-bar", "chair-orig-22-sd-bar"): "a different cut",
    ("pattern-hd-no-bar", "pattern-longer-no-bar"): "a different cut",
    ("pattern-longer-no-bar", "pattern-sd-grey-bar"): "a different cut",
    ("pattern-longer-no-bar", "pattern-sd-with-small-logo-bar"): "a different cut",
    # a large logo moves every frame's PDQ past 31 bits (Meta's reference misses them too)
    **{
        tuple(sorted((logo, other))): "large logo overlay"
        for prefix, logo in (("chair", "chair-22-with-large-logo-bar"),
                             ("pattern", "pattern-sd-with-large-logo-bar"))
        for other in (p.stem for p in VIDEOS)
        if other.startswith(prefix) and other != logo
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def clip() -> bytes:
    return synthetic_video(4.0, seed=1)


# --- sampling and hashing ------------------------------------------------------------


def test_frames_are_sampled_by_time(clip: bytes) -> None:
    hashes = hash_video(clip)
    assert isinstance(hashes, VideoHashes)
    assert [f.t for f in hashes.frames] == [0.0, 1.0, 2.0, 3.0]
    assert all(len(f.pdq) == 64 and 0 <= f.quality <= 100 for f in hashes.frames)
    assert (hashes.width, hashes.height) == (320, 240) and hashes.duration == pytest.approx(4.0, abs=0.1)
    assert hashes.videohash is not None and len(hashes.videohash) == 16
    assert [r.algorithm for r in hashes.records()] == ["md5", "sha1", "sha256", "videohash"]
    assert [r.index for r in hashes.frame_records()] == [0, 1, 2, 3]
    twice = hash_video(clip, VideoConfig(sample=SampleConfig(interval=0.5)))
    assert [f.t for f in twice.frames] == [0.5 * n for n in range(8)]
    capped = hash_video(clip, VideoConfig(sample=SampleConfig(max_frames=2)))
    assert len(capped.frames) == 2
    assert hash_media(clip).frames == hashes.frames  # the bytes say video


def test_letterbox_bars_are_removed_before_hashing() -> None:
    plain = hash_video(synthetic_video(3.0, (320, 180), seed=2))
    boxed_bytes = synthetic_video(3.0, (320, 240), seed=2, bars=30)
    boxed = hash_video(boxed_bytes)
    raw = hash_video(boxed_bytes, VideoConfig(bars=None))
    trimmed = [pdq_distance(a.pdq, b.pdq) for a, b in zip(plain.frames, boxed.frames, strict=True)]
    untrimmed = [pdq_distance(a.pdq, b.pdq) for a, b in zip(plain.frames, raw.frames, strict=True)]
    assert max(trimmed) <= 31 < min(untrimmed)
    assert compare_frames(plain.frames, boxed.frames, min_quality=0).matches()
    assert not compare_frames(plain.frames, raw.frames, min_quality=0).matches()


def test_vpdq_comparison_is_two_sided() -> None:
    def frames(*pdqs: str) -> list[FrameHash]:
        return [FrameHash(float(n), p, 100) for n, p in enumerate(pdqs)]

    a, b, c, d = ("0" * 64, "f" * 64, "0f" * 32, "f0" * 32)
    result = compare_frames(frames(a, b), frames(a, b, c, d))
    assert (result.query_share, result.target_share) == (1.0, 0.5)
    assert not result.matches(0.8) and result.matches(0.5) and result.distance == 50
    low = [FrameHash(0.0, a, 10)]
    assert compare_frames(low, frames(a)).query_share == 0.0  # low-quality frames ignored


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"", EmptyVideoError, "0 bytes"),
        (b"\x00\x00\x00\x18ftypisom" + bytes(64), CorruptVideoError, "not a readable video"),
    ],
    ids=["zero-length", "header-only"],
)
def test_bad_video_raises(data: bytes, error: type[VideoDecodeError], words: str) -> None:
    with pytest.raises(error, match=words):
        hash_video(data)


def test_audio_only_file_is_refused_clearly() -> None:
    with pytest.raises(NoVideoStreamError, match=r"no video stream.*audio"):
        hash_media(synthetic_audio(1.0))


def test_truncated_video_keeps_what_decoded_or_says_why(clip: bytes) -> None:
    try:
        partial = hash_video(clip[: len(clip) * 2 // 3])
    except CorruptVideoError as exc:
        assert "video" in str(exc)
    else:
        assert 1 <= len(partial.frames) <= 4
    with pytest.raises(VideoDecodeError):
        hash_video(clip[:200])


def test_a_truncated_video_says_how_many_frames_decoded(clip: bytes, tmp_path: Path) -> None:
    whole = hash_video(clip)
    assert (len(whole.frames), whole.samples, whole.incomplete) == (4, 4, None)
    partial = hash_video(truncated_video(tmp_path))
    assert (len(partial.frames), partial.samples) == (2, 4)
    assert partial.incomplete is not None and partial.incomplete.startswith("only 2 of 4 sampled frames decoded")
    assert all(not hash_video(p.read_bytes()).incomplete for p in VIDEOS)  # whole files: no false alarm


# --- conformance with Meta's vPDQ on the reference clips -----------------------------


@pytest.fixture(scope="module")
def vector_hashes() -> dict[str, VideoHashes]:
    return {p.stem: hash_video(p.read_bytes()) for p in VIDEOS}


def _reference(name: str) -> list[tuple[float, str]]:
    lines = (VIDEO_VECTORS / "vpdq-reference" / f"{name}.txt").read_text().splitlines()
    return [(float(t), pdq) for _, _, pdq, t in (line.split(",") for line in lines)]


def test_frames_agree_with_the_vpdq_reference() -> None:
    """Whole frames (no bar removal, as Meta's vPDQ hashes them) against the reference
    frame at the same time; the medians go into the report."""
    medians = {}
    for path in VIDEOS:
        reference = _reference(path.stem)
        frames = hash_video(path.read_bytes(), VideoConfig(bars=None)).frames
        distances = [
            pdq_distance(f.pdq, min(reference, key=lambda r: abs(r[0] - f.t))[1]) for f in frames
        ]
        medians[path.stem] = statistics.median(distances)
        assert statistics.median(distances) <= 31, (path.stem, distances)
    print("median PDQ distance to the vPDQ reference:", medians)
    assert statistics.median(medians.values()) <= 16


def test_near_duplicate_matrix(vector_hashes: dict[str, VideoHashes]) -> None:
    names = sorted(vector_hashes)
    missed = []
    for a, b in itertools.combinations(names, 2):
        matched = compare_frames(vector_hashes[a].frames, vector_hashes[b].frames).matches()
        same = a.split("-")[0] == b.split("-")[0]
        if not same:
            assert not matched, (a, b)
        elif not matched:
            missed.append((a, b))
    assert set(missed) <= set(KNOWN_MISSES), sorted(set(missed) - set(KNOWN_MISSES))
    print("same-prefix pairs missed:", missed)

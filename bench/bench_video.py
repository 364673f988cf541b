"""Benchmark of video hashing and matching: recall on re-hosting edits, the reference
clips' matrix, CPU per minute of 720p, peak memory.

1. Recall: 5 benign source clips (4 synthetic ones, moving shapes over textured
   gradients, and one dark, high-contrast one) each get 8 edits a re-hosting site makes:
   re-encode (at 150 kbit/s), resize (half size), excerpt (the middle 40%),
   inside a compilation (between two other clips), mirror (left to right),
   letterbox/pad (black bars above and below), logo overlay (a static badge in a corner,
   about 6% of the frame), brightness/contrast. Each copy is matched against the 5
   originals by ``hashing.hash_video`` and the matcher's vPDQ rule; a copy is found when
   it matches its own original, a cross match is one with another original. Copies are
   sampled once a second; the originals, the known side, every ``--known-interval``
   seconds (default: every frame, as Meta's vPDQ hashes known videos: an excerpt's
   samples fall between an original's once-a-second ones). Baselines in
   the same run: the rule this replaced (each frame cut by its own black bars, 80% of the
   frames both ways, no views), and naive per-frame PDQ (whole frames, a copy matches an
   original when most of its good frames are near one of the original's).
2. The reference clips of shared/vectors/video: same-prefix pairs matched (of 31) and
   cross pairs (of 60), new rule (each clip sampled once a second against the other
   hashed every ``--known-interval``) and old; then each clip sampled once a second
   against Meta's own vPDQ text of the other (``vpdq-reference``, every frame, whole
   frames), the way a known set in that format is matched.
3. CPU seconds per minute of 1280x720 H.264 on one core, on a web-style High-profile
   encode (CABAC, 3 B-frames, 3 Mbit/s): ``hash_video`` now, decoding as before (every
   frame) and the plain full decode + full-size pdqhash; best of ``--repeats``.
4. Peak resident memory of the process.

    .venv/bin/python bench/bench_video.py [--baseline-tree DIR]

``--baseline-tree``: a checkout of the code to compare with (``git archive`` of a
commit unpacked in a temporary directory); sections 1 and 2 are run again with its
``hashing`` package, in a child process of this one, with the known side sampled as it
was (once a second), and printed after this run's.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import pdqhash  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic import WEB_X264, decoded_frames, encoded_frames, synthetic_video  # noqa: E402

from hashing import FrameHash, VideoConfig, VideoHashes, compare_frames, hash_video  # noqa: E402
from hashing.borders import VIDEO_BARS, content_box  # noqa: E402
from hashing.frames import FRAME_SIGNAL, VpdqResult  # noqa: E402
from hashing.video.frame_sampling import SampleConfig, sample_frames  # noqa: E402

VECTORS = Path(os.environ.get("HOTLINE_VECTORS", "/work/shared/vectors")) / "video"
"""shared/vectors: beside the repository's checkout (its parent), or where HOTLINE_VECTORS says."""
if not VECTORS.is_dir():
    VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "video"
SIZE = (480, 272)
_WHOLE = VideoConfig(bars=None)
Frames = list[np.ndarray]


# --- the edits -------------------------------------------------------------------------


def _logo(frames: Frames) -> Frames:
    out = []
    height, width = frames[0].shape[:2]
    h, w = height // 4, width // 4
    for f in frames:
        g = f.copy()
        g[8 : 8 + h, width - w - 8 : width - 8] = (250, 250, 250)
        g[8 + h // 4 : 8 + 3 * h // 4, width - w : width - 16] = (200, 30, 30)
        out.append(g)
    return out


def _pad(frames: Frames) -> Frames:
    bar = np.zeros((40, frames[0].shape[1], 3), np.uint8)
    return [np.concatenate([bar, f, bar]) for f in frames]


def _resize(frames: Frames) -> Frames:
    from PIL import Image

    height, width = frames[0].shape[:2]
    size = (width // 4 * 2, height // 4 * 2)
    return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]


def _brightness(frames: Frames) -> Frames:
    return [np.clip(f.astype(np.int16) * 1.25 + 20, 0, 255).astype(np.uint8) for f in frames]


def edits(others: tuple[Frames, Frames]) -> dict[str, Callable[[Frames], bytes]]:
    n = len(others[0])
    return {
        "re-encode": lambda f: encoded_frames(f, bit_rate=150_000),
        "resize": lambda f: encoded_frames(_resize(f)),
        "excerpt": lambda f: encoded_frames(f[len(f) * 3 // 10 : len(f) * 7 // 10]),
        "compilation": lambda f: encoded_frames(others[0][: n // 2] + f + others[1][: n // 2]),
        "mirror": lambda f: encoded_frames([g[:, ::-1] for g in f]),
        "letterbox": lambda f: encoded_frames(_pad(f)),
        "logo": lambda f: encoded_frames(_logo(f)),
        "brightness": lambda f: encoded_frames(_brightness(f)),
    }


def sources(seconds: float) -> list[Frames]:
    clips = [decoded_frames(synthetic_video(seconds, SIZE, seed=s)) for s in (31, 32, 33, 34)]
    dark = [np.where(f > 200, f, f // 8).astype(np.uint8) for f in decoded_frames(synthetic_video(seconds, SIZE, seed=35))]
    return [*clips, dark]


# --- the rules compared ------------------------------------------------------------------


def old_hashes(data: bytes) -> tuple[FrameHash, ...]:
    """Frames hashed as before: never scaled up, each cut by its own black bars."""
    info, _ = sample_frames(data)
    _, frames = sample_frames(data, SampleConfig(fast=False, max_side=min(512, max(info.width, info.height))))
    out = []
    for t, pixels in frames:
        box = content_box(pixels, VIDEO_BARS)
        if box is not None:
            pixels = pixels[box[1] : box[3], box[0] : box[2]]
        pdq = FRAME_SIGNAL.hash_pixels(pixels)
        out.append(FrameHash(t, pdq.value, pdq.quality or 0))
    return tuple(out)


def new_match(copy: VideoHashes, original: VideoHashes) -> bool:
    """The matcher's rule: the copy's frames or any of their views against the original."""
    return any(compare_frames(frames, original.frames).matches() for frames in (copy.frames, *copy.views.values()))


def old_match(copy: tuple[FrameHash, ...], original: tuple[FrameHash, ...]) -> bool:
    result = compare_frames(copy, original)
    return result.query_share >= 0.8 and result.target_share >= 0.8


def naive_match(copy: tuple[FrameHash, ...], original: tuple[FrameHash, ...]) -> bool:
    result: VpdqResult = compare_frames(copy, original)
    return result.query_share > 0.5


def known_config(interval: float) -> VideoConfig:
    """How the known side (the originals) is hashed: every ``interval`` seconds."""
    return VideoConfig(sample=SampleConfig(interval=interval))


def recall(seconds: float, interval: float) -> None:
    clips = sources(seconds)
    extra = (decoded_frames(synthetic_video(seconds, SIZE, seed=41)), decoded_frames(synthetic_video(seconds, SIZE, seed=42)))
    originals = [encoded_frames(c) for c in clips]
    new_o = [hash_video(o, known_config(interval)) for o in originals]
    old_o = [old_hashes(o) for o in originals]
    naive_o = [hash_video(o, _WHOLE).frames for o in originals]
    rules = ("new", "old", "naive")
    found = {r: {} for r in rules}  # rule -> edit -> hits
    cross = dict.fromkeys(rules, 0)
    for n, clip in enumerate(clips):
        for name, edit in edits(extra).items():
            data = edit(clip)
            copy_new, copy_old, copy_naive = hash_video(data), old_hashes(data), hash_video(data, _WHOLE).frames
            for rule, hit in (
                ("new", [new_match(copy_new, o) for o in new_o]),
                ("old", [old_match(copy_old, o) for o in old_o]),
                ("naive", [naive_match(copy_naive, o) for o in naive_o]),
            ):
                found[rule][name] = found[rule].get(name, 0) + hit[n]
                cross[rule] += sum(hit) - hit[n]
    names = list(found["new"])
    total = len(clips)
    print(f"\n1. Recall: {total} sources x {len(names)} edits ({seconds:.0f} s clips, {SIZE[0]}x{SIZE[1]}, 1 frame/s)")
    print(f"  {'edit':<12}" + "".join(f"{r:>8}" for r in rules))
    for name in names:
        print(f"  {name:<12}" + "".join(f"{found[r][name]:>6}/{total}" for r in rules))
    print(f"  {'all':<12}" + "".join(f"{sum(found[r].values()):>5}/{total * len(names)}" for r in rules))
    print(f"  {'cross':<12}" + "".join(f"{cross[r]:>8}" for r in rules) + f"  (of {total * (total - 1) * len(names)})")


def reference_text(stem: str) -> tuple[FrameHash, ...]:
    """Meta's vPDQ output for a clip: ``frame_number,quality,pdq_hex,seconds`` a line."""
    lines = (VECTORS / "vpdq-reference" / f"{stem}.txt").read_text().splitlines()
    return tuple(FrameHash(float(t), pdq, int(q)) for _, q, pdq, t in (line.split(",") for line in lines if line))


def vectors(interval: float) -> None:
    paths = sorted(VECTORS.glob("*.mp4"))
    if not paths:
        print("\n2. Reference clips: not found at", VECTORS)
        return
    new = {p.stem: hash_video(p.read_bytes()) for p in paths}
    known = {p.stem: hash_video(p.read_bytes(), known_config(interval)) for p in paths}
    meta = {p.stem: reference_text(p.stem) for p in paths if (VECTORS / "vpdq-reference" / f"{p.stem}.txt").exists()}
    old = {p.stem: old_hashes(p.read_bytes()) for p in paths}
    same = {"new": 0, "old": 0, "meta": 0}
    crossed = {"new": 0, "old": 0, "meta": 0}
    pairs = cross_pairs = 0
    for a, b in itertools.combinations(sorted(new), 2):
        is_same = a.split("-")[0] == b.split("-")[0]
        pairs += is_same
        cross_pairs += not is_same
        for rule, hit in (
            ("new", new_match(new[a], known[b]) or new_match(new[b], known[a])),
            ("meta", (a in meta and b in meta) and (
                new_match(new[a], VideoHashes({}, 0, 0, None, meta[b]))
                or new_match(new[b], VideoHashes({}, 0, 0, None, meta[a])))),
            ("old", old_match(old[a], old[b])),
        ):
            (same if is_same else crossed)[rule] += hit
    print(f"\n2. Reference clips ({len(paths)} in shared/vectors/video): same-prefix pairs matched, cross pairs matched")
    for rule in ("new", "old", "meta"):
        print(f"  {rule}: {same[rule]}/{pairs} same ({100 * same[rule] / pairs:.0f}%), {crossed[rule]}/{cross_pairs} cross")


# --- decoding cost -----------------------------------------------------------------------


def naive_decode(data: bytes) -> int:
    frames, due = 0, 0.0
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 >= due:
                pdqhash.compute(frame.to_ndarray(format="rgb24"))
                frames += 1
                due += 1.0
    return frames


def every_frame_decode(data: bytes) -> int:
    """Sampling as before: every frame decoded (loop filter skipped), 1 a second kept."""
    _, frames = sample_frames(data, SampleConfig(fast=False))
    return sum(1 for _ in frames)


def timed(function: Callable[[bytes], object], data: bytes, repeats: int) -> tuple[float, float]:
    """The best CPU and the best wall seconds of ``repeats`` runs."""
    cpu = wall = float("inf")
    for _ in range(repeats):
        start, start_wall = time.process_time(), time.perf_counter()
        function(data)
        cpu, wall = min(cpu, time.process_time() - start), min(wall, time.perf_counter() - start_wall)
    return cpu, wall


def cost(seconds: float, repeats: int, bit_rate: int) -> None:
    start = time.perf_counter()
    data = synthetic_video(seconds, (1280, 720), seed=1, bit_rate=bit_rate, x264=WEB_X264)
    made = time.perf_counter() - start
    minutes = seconds / 60
    ours, ours_wall = (v / minutes for v in timed(hash_video, data, repeats))
    sampled = timed(lambda d: sum(1 for _ in sample_frames(d)[1]), data, repeats)[0] / minutes
    before = timed(every_frame_decode, data, repeats)[0] / minutes
    plain = timed(naive_decode, data, repeats)[0] / minutes
    frames = len(hash_video(data).frames)
    print(f"\n3. CPU per minute of 1280x720 H.264 High profile (CABAC, 3 B-frames), {seconds:.0f} s at 30 fps "
          f"({len(data) / 1e6:.1f} MB, {8 * len(data) / seconds / 1e6:.1f} Mbit/s, encoded in {made:.0f} s), "
          f"{frames} frames sampled, one core, best of {repeats}. Shared machine: others' jobs run alongside.")
    print(f"  plain full decode + full-size pdqhash:       {plain:.2f} s")
    print(f"  sampling as before (every frame decoded):    {before:.2f} s")
    print(f"  sampling now (B-frames away from samples skipped): {sampled:.2f} s ({before / sampled:.2f}x)")
    print(f"  hashing.hash_video (sampling, key frames for bars when the first frame may have them, PDQ of frames and views, collage): "
          f"{ours:.2f} s (target <= 3), {ours_wall:.2f} s wall; {plain / ours:.1f}x the plain baseline's speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the 720p clip timed")
    parser.add_argument("--clip-seconds", type=float, default=12.0, help="length of the recall sources")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bit-rate", type=int, default=3_000_000, help="encoder bits/s (web 720p: 2-5M)")
    parser.add_argument("--known-interval", type=float, default=1 / 30,
                        help="seconds between the known side's hashed frames (default: every frame at 30 fps)")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout to run sections 1 and 2 with, for comparison")
    parser.add_argument("--skip", choices=("recall", "vectors", "cost"), action="append", default=[])
    args = parser.parse_args()
    print("Video hashing and matching benchmark")
    if "recall" not in args.skip:
        recall(args.clip_seconds, args.known_interval)
    if "vectors" not in args.skip:
        vectors(args.known_interval)
    if "cost" not in args.skip:
        cost(args.seconds, args.repeats, args.bit_rate)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n4. Peak resident memory of this process: {peak:.0f} MB")
    if args.baseline_tree is not None:
        baseline(args)


def baseline(args: argparse.Namespace) -> None:
    """Sections 1 and 2 again with the baseline checkout's code (a child process: its
    ``hashing`` package on the path first), the known side sampled once a second as it was."""
    tree = args.baseline_tree.resolve()
    command = [sys.executable, __file__, "--clip-seconds", str(args.clip_seconds), "--known-interval", "1",
               "--skip", "cost", *[f"--skip={s}" for s in args.skip if s != "cost"]]
    env = os.environ | {"PYTHONPATH": f"{tree}{os.pathsep}{tree / 'tests'}", "HOTLINE_VECTORS": str(VECTORS.parent)}
    print(f"\n--- baseline: {tree} (known side sampled once a second) ---", flush=True)
    subprocess.run(command, env=env, cwd=tree, check=False)


if __name__ == "__main__":
    main()

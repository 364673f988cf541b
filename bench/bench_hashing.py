"""Benchmark: hashing images, the full set of hashes per image, on one core.

1,000 synthetic 1024x768 JPEGs (benign: gradients, shapes, noise, made in memory) are
hashed by ``hashing.hash_image`` (MD5, SHA-1, SHA-256, PDQ with quality and its eight
dihedral variants, pHash, border check; JPEG draft decoding), and by the naive baseline
in the same run: ``Image.open`` -> full-size RGB array -> pdqhash, imagehash.phash,
hashlib. Prints images per second of each and the ratio, then checks that the fast path
still passes the PDQ conformance vectors (within 10 bits of Meta's reference).

Then the PDQ quality gate: the same images plus one flat picture in ten are hashed and
matched in batches of 100 against a known set (half the corpus's PDQs, a flat one, 10,000
random ones), with the gate at 50 and without it (``min_quality`` 0), in the same run:
images per second, wall and CPU time, and how many flat pictures matched.

    .venv/bin/python bench/bench_hashing.py            # 1,000 images
    .venv/bin/python bench/bench_hashing.py --n 200    # quicker
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import imagehash  # noqa: E402
import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic import synthetic_picture  # noqa: E402
from vectors import PDQ_VECTORS as VECTORS  # noqa: E402

from hashing import HashingConfig, KnownSet, Matcher, hash_image, import_known_set, pdq_distance  # noqa: E402


def corpus(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    images = []
    for seed in range(n):
        pixels = np.asarray(synthetic_picture(seed, (1024, 768)), dtype=np.int16)
        pixels += rng.integers(-12, 13, pixels.shape, dtype=np.int16)  # camera-like noise
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def naive(data: bytes) -> tuple[str, ...]:
    image = Image.open(io.BytesIO(data))
    pixels = np.asarray(image.convert("RGB"))
    bits, _quality = pdqhash.compute(pixels)
    return (
        np.packbits(bits).tobytes().hex(),
        str(imagehash.phash(image)),
        *(hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256")),
    )


def rates(functions: list[Callable[[bytes], object]], images: list[bytes], chunk: int = 50) -> list[tuple[float, float]]:
    """Images per second of wall and of CPU time for each function, run over the same
    chunks of images in turn, so that the shared machine's drifting load falls on each."""
    wall, cpu = [0.0] * len(functions), [0.0] * len(functions)
    for start in range(0, len(images), chunk):
        for n, function in enumerate(functions):
            began, began_cpu = time.perf_counter(), time.process_time()
            for data in images[start:start + chunk]:
                function(data)
            wall[n] += time.perf_counter() - began
            cpu[n] += time.process_time() - began_cpu
    return [(len(images) / w, len(images) / c) for w, c in zip(wall, cpu, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    images = corpus(args.n)
    size = sum(map(len, images)) / len(images) / 1024
    rates([hash_image, naive], images[:20])  # warm up both paths
    (fast, fast_cpu), (slow, slow_cpu) = rates([hash_image, naive], images)
    drift = sorted(pdq_distance(hash_image(d).pdq, naive(d)[0]) for d in images[:100])
    print(f"Image hashing benchmark: {len(images):,} synthetic 1024x768 JPEGs (mean {size:.0f} KiB), "
          "one core, all hashes per image. Shared 2-core machine: others' jobs run alongside, "
          "figures vary by +-20%.")
    print(f"  naive baseline (full decode, pdqhash, imagehash.phash, hashlib): {slow:7.1f} images/s, "
          f"{1000 / slow_cpu:.1f} ms CPU per image")
    print(f"  hashing.hash_image (draft decode, + 8 dihedral PDQ, border check, edit and repair variants): "
          f"{fast:7.1f} images/s, {1000 / fast_cpu:.1f} ms CPU per image")
    print(f"  speed-up: {fast / slow:.1f}x wall, {fast_cpu / slow_cpu:.1f}x CPU; PDQ difference to the naive full-size path over 100 images: "
          f"median {drift[len(drift) // 2]}, largest {drift[-1]} bits (what a 256x192 copy of the same "
          "picture would show)")
    with (VECTORS / "expected-pdq.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    worst = max(pdq_distance(hash_image((VECTORS / r["path"]).read_bytes()).pdq, r["pdq_hex"]) for r in rows)
    print(f"  conformance: {len(rows)} reference vectors, largest distance to Meta's PDQ {worst} bits (limit 10)")
    if worst > 10:
        raise SystemExit("the fast path no longer passes the PDQ conformance vectors")
    photo_drift()
    quality_gate(images)


def photo_drift() -> None:
    """How far ``hash_image``'s PDQ is from the reference's on the full-size pixels, on the
    scikit-image photos as JPEGs at their own size and enlarged, against pdqhash run on
    the same draft-decoded picture (what external lists would not agree with)."""
    from rehost_edits import natural_photos

    from hashing.decode import decode

    whole = HashingConfig(borders=None)  # the decoding's drift, not a trimmed border's
    ours, plain = [], []
    for _, photo in natural_photos():
        for size in (None, (1024, 768), (2048, 1536)):
            buffer = io.BytesIO()
            (photo if size is None else photo.resize(size, Image.Resampling.LANCZOS)).save(buffer, "JPEG", quality=90)
            data = buffer.getvalue()
            reference = naive(data)[0]
            ours.append(pdq_distance(hash_image(data, whole).pdq, reference))
            bits, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(decode(data).image)))
            plain.append(pdq_distance(np.packbits(bits).tobytes().hex(), reference))
    for label, found in (("hash_image (reduction folded over the draft scale)", ours),
                         ("pdqhash on the draft-decoded picture", plain)):
        found.sort()
        counts = np.bincount(found)
        print(f"  drift to full-size PDQ on {len(found)} photo JPEGs (native, 1024x768, 2048x1536), {label}: "
              f"median {found[len(found) // 2]}, 95th percentile {found[int(len(found) * 0.95)]}, largest {found[-1]}; "
              "bits: " + " ".join(f"{d}:{c}" for d, c in enumerate(counts) if c))


def flat_picture(n: int) -> bytes:
    """A nearly uniform picture (a blank frame, a plain background): its PDQ is flat."""
    rng = np.random.default_rng(n)
    pixels = np.full((480, 640, 3), 30 + n % 50, dtype=np.int16) + rng.integers(-1, 2, (480, 640, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def quality_gate(images: list[bytes]) -> None:
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from catalog.decisions.records import Verdict

    flats = [flat_picture(n) for n in range(max(1, len(images) // 10))]
    mixed = images + flats
    rng = np.random.default_rng(1)
    known_pdq = [hash_image(d).pdq for d in images[::2]] + [hash_image(flats[0]).pdq]
    known_pdq += [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(10_000)]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "known.parquet"
        pq.write_table(pa.table({"pdq": known_pdq}), source)
        imported = import_known_set(source, Path(tmp) / "sets", "bench")
        known = KnownSet("bench", imported.path, Verdict.NATIONAL, content_sha256=imported.content_sha256)
        results = {}
        for gate in (0, 50, 0, 50):  # twice each, interleaved: the shared machine's load drifts
            matcher = Matcher([known], min_quality=gate)
            wall, cpu = time.perf_counter(), time.process_time()
            found = []
            for start in range(0, len(mixed), 100):
                found += matcher.match([hash_image(d) for d in mixed[start:start + 100]])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            flat_shas = {hash_image(d).sha256 for d in flats}
            best = results.get(gate)
            if best is None or wall < best[0]:
                results[gate] = (wall, cpu, sum(m.sha256 in flat_shas for m in found), matcher.skipped)
    (w0, c0, f0, _), (w50, c50, f50, skipped) = results[0], results[50]
    print(f"  quality gate, hash + match in batches of 100 ({len(images)} pictures + {len(flats)} flat ones, "
          f"known set of {len(known_pdq):,} PDQs), best of two runs each:")
    print(f"    without (min_quality 0): {len(mixed) / w0:7.1f} images/s, wall {w0:.2f} s, CPU {c0:.2f} s, "
          f"flat pictures matched {f0}")
    print(f"    with (min_quality 50):   {len(mixed) / w50:7.1f} images/s, wall {w50:.2f} s, CPU {c50:.2f} s, "
          f"flat pictures matched {f50}; skipped {skipped['pdq_images']} flat image PDQs")
    print(f"    cost of the gate: {100 * (w50 / w0 - 1):+.1f}% wall, {100 * (c50 / c0 - 1):+.1f}% CPU")


if __name__ == "__main__":
    main()

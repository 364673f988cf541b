"""Benchmark: the cost and the reach of trimming frames before perceptual hashing.

Every picture is decoded as ``hash_image`` decodes it (``hashing.decode``, JPEGs read at
reduced size), then the box of the picture inside it is looked for twice in the same
process: with uniform borders only (``picture_box(..., framing=None)``, the baseline:
what was trimmed before frames were looked for) and with frames too (the default
``FRAMES``). Pictures: the 26 originals of ``bench_matching.py`` under each of the 16
standard edits and the 5 frame edits, and ``--negatives`` of its benign negatives.
Printed: CPU time per picture of each (best of ``--repeat`` passes), and how many
pictures each trims, per group: a frame edit should be trimmed, an unframed copy or a
negative should be trimmed as before. A negative whose box is the same either way
hashes exactly as before frames were looked for, so only the negatives whose box
changed can match anything new: those are hashed by ``hash_image`` (crop variants on,
as ``bench_matching.py``), and the nearest distance of any hash they are looked up by
to an original's full-size PDQ is printed (a false match: within 31 at quality >= 50).

    PYTHONPATH=. .venv/bin/python bench/bench_framing.py --negatives 10000
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matching import MIN_QUALITY, THRESHOLD, full_pdq, nearest, negatives, packed  # noqa: E402
from rehost_edits import EDITS, FRAME_EDITS, originals  # noqa: E402

from hashing import HashingConfig, hash_image  # noqa: E402
from hashing.borders import IMAGE_BORDERS  # noqa: E402
from hashing.decode import decode  # noqa: E402
from hashing.framing import FRAMES, picture_box  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--negatives", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pictures: list[tuple[str, bytes]] = []
    known = []
    for _, original in originals(26):
        known.append(full_pdq(original)[0])
        for edit in EDITS + FRAME_EDITS:
            pictures.append((edit.group if edit.group == "frame" else "unframed copy", edit.apply(original)[0]))
    pictures += [("negative", data) for data in negatives(args.negatives)]
    decoded = [(group, decode(data).image) for group, data in pictures]
    cpu = {}
    found: dict[str, list] = {}
    trimmed: dict[str, Counter[str]] = {"borders only": Counter(), "with frames": Counter()}
    totals: Counter[str] = Counter(group for group, _ in decoded)
    for label, framing in (("borders only", None), ("with frames", FRAMES)):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.process_time()
            boxes = [picture_box(image, IMAGE_BORDERS, framing) for _, image in decoded]
            best = min(best, time.process_time() - start)
        cpu[label] = best / len(decoded)
        for (group, _), box in zip(decoded, boxes, strict=True):
            trimmed[label][group] += box is not None
        found[label] = boxes
    sizes = sorted(max(image.size) for _, image in decoded)
    print(f"Frame trimming: {len(decoded):,} decoded pictures (long side median {sizes[len(sizes) // 2]} px)")
    for label in cpu:
        shares = ", ".join(f"{group} {trimmed[label][group]}/{totals[group]}" for group in totals)
        print(f"  {label:12s} {1000 * cpu[label]:.3f} ms CPU per picture; trimmed: {shares}")
    print(f"  frames cost {1000 * (cpu['with frames'] - cpu['borders only']):.3f} ms CPU more per picture")
    changed = [n for n, (group, _) in enumerate(decoded) if group == "negative"
               and found["with frames"][n] != found["borders only"][n]]  # fmt: skip
    config, distances = HashingConfig(crop_variants=True), []
    for n in changed:
        hashes = hash_image(pictures[n][1], config)
        _, distance = nearest(packed(hashes.lookups("pdq", 0)), np.stack(known))
        distances.append((distance, hashes.pdq_quality))
    false = sum(d <= THRESHOLD and q >= MIN_QUALITY for d, q in distances)
    print(f"  negatives whose box frames change: {len(changed)} of {totals['negative']:,}; false matches among them "
          f"{false}; their nearest distances to an original: {sorted(d for d, _ in distances)}")


if __name__ == "__main__":
    main()

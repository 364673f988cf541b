"""Benchmark: matching re-hosted copies against a hash-only known set, and not matching
anything else.

The known set holds only the full-size PDQ of each original (as INTERPOL and Project VIC
send them): ``--originals`` benign pictures (``tests/rehost_edits.originals``: the
scikit-image sample photos, then synthetic ones), plus 10,000 random PDQs so that the
index is not trivially small. Every original gets each of the 16 edits of
``tests/rehost_edits.EDITS`` and the 5 frames of ``FRAME_EDITS`` (a gradient, striped,
grainy or blurred-fill frame, a mat in a frame); each copy is hashed by ``hashing.hash_image`` and matched by
the ``Matcher`` (threshold 31, quality gate 50) with ``crop_variants`` on ("hotline";
"default": the default configuration, whose ``repair_variants`` undo small turns and
caption boxes), and by the naive baseline in the same
run: PDQ (pdqhash) of the eight dihedral transforms of the full-size decoded picture, no
trimming, nearest known hash within 31; and ours without the frame detection
(``framing=None``, "no frames"). Printed per edit: copies matched to their own
original by each, and for ours the variants that matched.

Then ``--negatives`` distinct benign pictures that are no copy of an original
(synthetic shapes of other seeds, smooth and sharp noise fields, stripes and checks,
ninth-size tiles of the sample photos, scribbled text) are hashed and matched the same
way: every false match is listed (the target is none), with the histogram of each
negative's nearest distance to a known original over every hash it is looked up by.
The look-alikes (``look_alikes``) are harder: pictures near-duplicate to the eye but
not copies, each beside a known picture it resembles, whose full-size PDQ the known
set holds too: tiles of a sample photo next to a known tile of it overlapping it by
under half, parts of a known photo under half its area, frames of a synthetic pan
next to known frames they overlap by 48%, and one page template filled with other
content than the known fills. Their false matches and histogram are printed apart.
Last: hashing CPU and wall time against the naive baseline, the matcher's queries per
second and the peak memory.

    PYTHONPATH=. .venv/bin/python bench/bench_matching.py                 # 26 originals, 10,000 negatives
    PYTHONPATH=. .venv/bin/python bench/bench_matching.py --negatives 1000
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rehost_edits import EDITS, FRAME_EDITS, natural_photos, originals  # noqa: E402
from synthetic import synthetic_picture  # noqa: E402

from hashing import HashingConfig, ImageHashes, KnownSet, Matcher, hash_image, import_known_set  # noqa: E402

THRESHOLD = 31
MIN_QUALITY = 50
GROUPS = {"easy": "every easy edit", "dihedral": "rot90, mirror", "border": "border-5",
          "text": "small-text", "crop": "crop-5", "hard": "crop-15, rotate-3, large-text, size-15",
          "frame": "the 5 frames"}
TARGETS = {"easy": 1.0, "dihedral": 1.0, "border": 0.95, "text": 0.6, "crop": 0.6, "hard": 0.5, "frame": 0.8}
ALL_EDITS = EDITS + FRAME_EDITS


def full_pdq(image: Image.Image) -> tuple[np.ndarray, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(image.convert("RGB"))))
    return np.packbits(bits), int(quality)


def naive(data: bytes) -> tuple[list[np.ndarray], int]:
    """The baseline: PDQ of the eight dihedral transforms of the full-size pixels."""
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    turned = [np.rot90(pixels, k) for k in range(4)]
    found = [pdqhash.compute(np.ascontiguousarray(p)) for p in turned + [p[:, ::-1] for p in turned]]
    return [np.packbits(bits) for bits, _ in found], int(found[0][1])


def nearest(queries: list[np.ndarray], known: np.ndarray) -> tuple[int, int]:
    """(index of the nearest known hash, distance) over every query."""
    distances = np.bitwise_count(np.stack(queries)[:, None, :] ^ known[None, :, :]).sum(axis=2)
    flat = int(distances.argmin())
    return flat % len(known), int(distances.flat[flat])


def packed(values: list[str]) -> list[np.ndarray]:
    return [np.frombuffer(bytes.fromhex(v), dtype=np.uint8) for v in values]


def negatives(count: int) -> list[bytes]:
    """``count`` distinct benign pictures, none a copy of an original (JPEG, 320x240)."""
    rng = np.random.default_rng(7)
    tiles = []
    for _, photo in natural_photos():
        width, height = photo.size
        for row in range(3):
            for col in range(3):
                tiles.append(photo.crop((col * width // 3, row * height // 3,
                                         (col + 1) * width // 3, (row + 1) * height // 3)).resize((320, 240)))
    kinds = [lambda n: synthetic_picture(500_000 + n, (320, 240)), _noise, _stripes, _scribble]
    pictures = list(tiles)
    n = 0
    while len(pictures) < count:
        pictures.append(kinds[n % len(kinds)](n))
        n += 1
    return [_jpeg(picture, int(rng.integers(60, 95))) for picture in pictures[:count]]


def look_alikes() -> tuple[list[tuple[str, Image.Image]], list[tuple[str, Image.Image]]]:
    """(known pictures, look-alike negatives): each negative resembles a known picture
    (or an original) without being a copy of it, overlapping it by under half.

    - tiles: of each sample photo, the known tile holds the top-left 60% x 60%; the
      negatives are the tiles 32% and 40% of the photo to the right, below and both (47%
      and 33% of the known tile's area shared, or less);
    - parts: a 70% x 70% part of each known sample photo (49% of its area): the middle
      and the four corners;
    - pan: four wide synthetic scenes panned by 52% of a 640x480 frame, the even frames
      known and the odd ones negatives (48% shared with each neighbour);
    - template: a page layout (title bar, side menu, caption strip) around a picture,
      known with 8 pictures, the negatives with 24 others.
    """
    known: list[tuple[str, Image.Image]] = []
    alike: list[tuple[str, Image.Image]] = []
    for name, photo in natural_photos():
        width, height = photo.size
        tile_w, tile_h = round(width * 0.6), round(height * 0.6)
        known.append((f"tile-{name}", photo.crop((0, 0, tile_w, tile_h))))
        for shift in (0.32, 0.40):
            dx, dy = round(width * shift), round(height * shift)
            for x, y in ((dx, 0), (0, dy), (dx, dy)):
                alike.append((f"tile-{name}+{x},{y}", photo.crop((x, y, x + tile_w, y + tile_h))))
        part_w, part_h = round(width * 0.7), round(height * 0.7)
        for x, y in ((width - part_w) // 2, (height - part_h) // 2), (0, 0), (width - part_w, 0), (0, height - part_h), (
                width - part_w, height - part_h):
            alike.append((f"part-{name}@{x},{y}", photo.crop((x, y, x + part_w, y + part_h))))
    step = round(640 * 0.52)
    for scene in range(4):
        wide = synthetic_picture(700_000 + scene, (640 + 7 * step, 480))
        for frame in range(8):
            picture = wide.crop((frame * step, 0, frame * step + 640, 480))
            (known if frame % 2 == 0 else alike).append((f"pan-{scene}-{frame}", picture))
    for n in range(32):
        (known if n < 8 else alike).append((f"template-{n}", _templated(n)))
    return known, alike


def _templated(n: int) -> Image.Image:
    """A page layout (title bar, side menu, caption strip) around the synthetic picture ``n``."""
    page = Image.new("RGB", (640, 480), (236, 238, 242))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 640, 56), fill=(32, 64, 128))
    draw.text((16, 20), "example.test  gallery", fill=(255, 255, 255))
    for row in range(8):
        draw.rectangle((12, 72 + row * 44, 140, 104 + row * 44), fill=(200, 206, 216))
        draw.text((20, 82 + row * 44), f"section {row}", fill=(40, 40, 40))
    page.paste(synthetic_picture(800_000 + n, (460, 340)), (160, 72))
    draw.rectangle((160, 424, 620, 468), fill=(60, 60, 60))
    draw.text((170, 440), f"picture {n}", fill=(250, 250, 250))
    return page


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _noise(n: int) -> Image.Image:
    rng = np.random.default_rng(1_000_000 + n)
    field = rng.integers(0, 256, (240 // 8 * (1 + n % 4), 320 // 8 * (1 + n % 4), 3), dtype=np.uint8)
    image = Image.fromarray(field).resize((320, 240), Image.Resampling.BICUBIC)
    return image.filter(ImageFilter.GaussianBlur(n % 5))


def _stripes(n: int) -> Image.Image:
    rng = np.random.default_rng(2_000_000 + n)
    ys, xs = np.mgrid[0:240, 0:320]
    angle, frequency = rng.uniform(0, np.pi), rng.uniform(0.01, 0.3)
    wave = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) * frequency + rng.uniform(0, 6))
    if n % 2:
        wave = wave * np.sin((xs * np.sin(angle) - ys * np.cos(angle)) * rng.uniform(0.01, 0.3))
    colours = rng.integers(0, 256, (2, 3))
    pixels = colours[0] + (colours[1] - colours[0]) * ((wave[..., None] + 1) / 2)
    return Image.fromarray(pixels.astype(np.uint8))


def _scribble(n: int) -> Image.Image:
    rng = np.random.default_rng(3_000_000 + n)
    image = Image.new("RGB", (320, 240), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = int(rng.integers(0, 300)), int(rng.integers(0, 230))
        draw.text((x, y), "".join(chr(int(c)) for c in rng.integers(65, 91, 8)),
                  fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw.line([tuple(int(v) for v in rng.integers(0, 320, 2)), tuple(int(v) for v in rng.integers(0, 240, 2))],
                  fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(1, 6)))
    return image


class Timed:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __call__(self, function, *args):  # noqa: ANN001, ANN002, ANN204
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", type=int, default=26)
    parser.add_argument("--negatives", type=int, default=10_000)
    parser.add_argument("--naive-negatives", type=int, default=1_000,
                        help="how many of the negatives the (slow) baseline hashes too")
    args = parser.parse_args()
    from catalog.decisions.records import Verdict

    pictures = originals(args.originals)
    alike_known, alike = look_alikes()
    names = [name for name, _ in pictures] + [name for name, _ in alike_known]
    known = [full_pdq(picture)[0] for _, picture in pictures + alike_known]
    matchable = sum(full_pdq(picture)[1] >= MIN_QUALITY for _, picture in pictures)
    known_array = np.stack(known)
    rng = np.random.default_rng(3)
    filler = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(10_000)]
    ours_t, naive_t, match_t, plain_t, bare_t = Timed(), Timed(), Timed(), Timed(), Timed()
    plain_config, config = HashingConfig(), HashingConfig(crop_variants=True)
    unframed_config = HashingConfig(crop_variants=True, framing=None)
    bare_config = HashingConfig(repair_variants=False)
    queries = 0
    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow as pa
        import pyarrow.parquet as pq

        source = Path(tmp) / "known.parquet"
        pq.write_table(pa.table({"pdq": [k.tobytes().hex() for k in known] + filler,
                                 "id": names + [f"filler-{n}" for n in range(len(filler))]}), source)
        imported = import_known_set(source, Path(tmp) / "sets", "hash-only")
        known_set = KnownSet("hash-only", imported.path, Verdict.NATIONAL, content_sha256=imported.content_sha256)
        matcher = Matcher([known_set], min_quality=MIN_QUALITY)

        def match(hashes: ImageHashes) -> list:  # noqa: ANN202
            nonlocal queries
            queries += len(hashes.lookups("pdq", MIN_QUALITY))
            return match_t(matcher.match, [hashes])

        print(f"Hash-only matching benchmark: {len(pictures)} originals ({sum(not n.startswith('synthetic') for n, _ in pictures)}"
              f" scikit-image photos), {len(ALL_EDITS)} edits each, known set = their full-size PDQ + {len(alike_known)} "
              f"pictures the look-alikes resemble + {len(filler):,} "
              f"random PDQs; threshold {THRESHOLD}, quality >= {MIN_QUALITY}. Baseline in the same run: "
              "pdqhash of the 8 dihedral transforms of the full-size picture.")
        print(f"  {'edit':14s} {'group':9s} {'naive':>7s} {'default':>16s} {'no frames':>9s} {'hotline':>8s}"
              "   variants that matched (hotline)")
        recall: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        false_copies = []
        for edit in ALL_EDITS:
            ours_hit = naive_hit = plain_hit = unframed_hit = 0
            variants: Counter[str] = Counter()
            for (name, picture), own in zip(pictures, range(len(pictures)), strict=True):
                data, _ = edit.apply(picture)
                hashes = ours_t(hash_image, data, config)
                found = match(hashes)
                right = [m for m in found if m.known_id == names[own]]
                wrong = [m for m in found if m.known_id != names[own]]
                false_copies += [(edit.name, name, m.known_id, m.variant, m.distance) for m in wrong]
                if right:
                    ours_hit += 1
                    variants[f"{right[0].variant}"] += 1
                plain = plain_t(hash_image, data, plain_config)
                bare_t(hash_image, data, bare_config)
                plain_hit += any(m.known_id == names[own] for m in matcher.match([plain]))
                unframed = hash_image(data, unframed_config)
                unframed_hit += any(m.known_id == names[own] for m in matcher.match([unframed]))
                naive_hashes, quality = naive_t(naive, data)
                index, distance = nearest(naive_hashes, known_array)
                if quality >= MIN_QUALITY and distance <= THRESHOLD:
                    naive_hit += index == own
            group = recall[edit.group]
            group[0] += naive_hit
            group[1] += ours_hit
            group[2] += len(pictures)
            shown = ", ".join(f"{v} {c}" for v, c in variants.most_common(4))
            print(f"  {edit.name:14s} {edit.group:9s} {naive_hit:3d}/{len(pictures):<3d} {plain_hit:12d}/{len(pictures):<3d}"
                  f" {unframed_hit:5d}/{len(pictures):<3d} {ours_hit:4d}/{len(pictures):<3d}"
                  f"   {shown}")
        print(f"  by group, of the copies of the {matchable} originals whose own PDQ passes the quality gate "
              f"(the others cannot match by PDQ), target for hotline:")
        for group, (naive_hit, ours_hit, total) in recall.items():
            target = TARGETS[group]
            total = total * matchable // len(pictures)
            verdict = "ok" if ours_hit >= target * total else "BELOW TARGET"
            print(f"    {GROUPS[group]:40s} naive {100 * naive_hit / total:5.1f}%  hotline {100 * ours_hit / total:5.1f}%"
                  f"  (target >= {100 * target:.0f}%: {verdict})")
        print(f"  false matches among the {len(ALL_EDITS) * len(pictures)} copies (to another original): {len(false_copies)}"
              + "".join(f"\n    {f}" for f in false_copies))

        ours_benign_cpu = -ours_t.cpu
        benign = negatives(args.negatives)
        bins = [(0, 31), (32, 40), (41, 50), (51, 60), (61, 70), (71, 80), (81, 256)]
        naive_checked = 0
        for label, batch in (("negatives", [("", data) for data in benign]),
                             ("look-alikes", [(name, _jpeg(picture, 90)) for name, picture in alike])):
            histogram: Counter[str] = Counter()
            false_negatives = []
            naive_false = naive_batch = 0
            closest: list[tuple[int, str, str]] = []
            for name, data in batch:
                hashes = ours_t(hash_image, data, config)
                found = match(hashes)
                false_negatives += [(name, m.known_id, m.variant, m.distance) for m in found]
                named = hashes.named_lookups("pdq", 0)
                index, distance = nearest(packed([value for _, value in named]), known_array)
                closest.append((distance, name, names[index]))
                histogram[next(f"{lo}-{hi}" for lo, hi in bins if lo <= distance <= hi)] += 1
                if label == "look-alikes" or naive_checked < args.naive_negatives:
                    naive_checked += 1
                    naive_batch += 1
                    naive_hashes, quality = naive_t(naive, data)
                    _, distance = nearest(naive_hashes, known_array)
                    naive_false += quality >= MIN_QUALITY and distance <= THRESHOLD
            print(f"  {label}: {len(batch):,} distinct benign pictures; false matches hotline {len(false_negatives)}, "
                  f"naive {naive_false} (of {naive_batch:,})" + "".join(f"\n    {f}" for f in false_negatives))
            print(f"  nearest distance of each of the {label} to a known picture over every hash looked up "
                  "(all variants, quality gate off):")
            print("    " + "  ".join(f"{lo}-{hi}: {histogram[f'{lo}-{hi}']}" for lo, hi in bins))
            if label == "look-alikes":
                print("    closest: " + ", ".join(f"{n} to {k} at {d}" for d, n, k in sorted(closest)[:6]))
        ours_benign_cpu += ours_t.cpu
    items = len(ALL_EDITS) * len(pictures) + len(benign) + len(alike)
    naive_items = len(ALL_EDITS) * len(pictures) + naive_checked
    ours_cpu, ours_wall = ours_t.cpu / items, ours_t.wall / items
    naive_cpu, naive_wall = naive_t.cpu / naive_items, naive_t.wall / naive_items
    print(f"  hashing: hotline {1000 * ours_cpu:.1f} ms CPU per file (wall {1000 * ours_wall:.1f}) over {items:,} files,"
          f" naive dihedral {1000 * naive_cpu:.1f} ms CPU (wall {1000 * naive_wall:.1f}) over {naive_items:,}:"
          f" {naive_cpu / ours_cpu:.1f}x CPU, {naive_wall / ours_wall:.1f}x wall")
    copies = len(ALL_EDITS) * len(pictures)
    print(f"  cost of the variants on the {copies} copies: {1000 * bare_t.cpu / copies:.1f} ms CPU per file without "
          f"repair_variants, {1000 * plain_t.cpu / copies:.1f} with the default configuration (repairs on), "
          f"{1000 * (ours_t.cpu - ours_benign_cpu) / copies:.1f} with crop_variants too")
    print(f"  matching: {queries:,} index queries in {match_t.cpu:.2f} s CPU ({match_t.wall:.2f} s wall), "
          f"{queries / max(match_t.wall, 1e-9):,.0f} queries/s, {queries / items:.1f} per file")
    print(f"  peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

"""A benign sample queue for tests, benchmarks and trying the app: synthetic pictures of
coloured shapes (and test-pattern videos) in groups of near-duplicates, stored encrypted in
the evidence store, hashed, queued and clustered as a crawl would leave them."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np
from PIL import Image, ImageDraw

from catalog.decisions.records import Verdict
from catalog.known_sets.records import MatchRecord
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import ClusteringConfig, cluster_queue
from hashing import hash_image
from hotline.installation import Installation


def test_pattern_video(seed: int, seconds: int = 2, size: tuple[int, int] = (96, 64), fps: int = 5) -> bytes:
    """A small MP4 of moving colour bars, made in memory."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        rng = np.random.default_rng(seed)
        bars = rng.integers(0, 256, size=(8, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            row = np.repeat(np.roll(bars, i, axis=0), size[0] // 8 + 1, axis=0)[: size[0]]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.broadcast_to(row, (size[1], size[0], 3))),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _picture(seed: int, size: tuple[int, int], quality: int) -> bytes:
    """Coloured shapes on a diagonal gradient (no flat border, so PDQ stays stable)."""
    rng = random.Random(seed)
    w, h = size
    a, b = (np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32) for _ in range(2))
    t = (np.add.outer(np.arange(h), np.arange(w)) / (w + h - 2))[..., None]
    img = Image.fromarray((a * (1 - t) + b * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _variant(seed: int, index: int, size: tuple[int, int]) -> bytes:
    """Near-duplicates: the same picture re-encoded at falling JPEG quality, as re-hosted
    copies are (distinct bytes for up to 25 copies)."""
    return _picture(seed, size, 95 - 2 * (index % 25))


def seed_queue(
    inst: Installation,
    groups: Sequence[int],
    *,
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
    videos: int = 0,
    known: int = 0,
    country: str = "NL",
    report_url: str = "http://gallery.test/",
    exact_hashes: bool = True,
) -> list[list[str]]:
    """Queue ``groups`` of near-duplicate pictures (sizes given), ``videos`` test-pattern
    videos and ``known`` pictures that a known set matches (they never reach the queue).
    With ``exact_hashes`` False nothing is hashed: each group gets a random PDQ and its
    copies that PDQ with two bits flipped (fast, for large benchmarks; clustering sees the
    same structure). Returns the groups' SHA-256s (videos as groups of one, last)."""
    catalog = inst.catalog
    report = catalog.add_report(report_url, actor="sample", source="demo")
    media: list[MediaRecord] = []
    seen: list[SightingRecord] = []
    hashes: list[HashRecord] = []
    out: list[list[str]] = []

    def add(data: bytes, kind: str, mime: str) -> str:
        sha = inst.evidence.put(data)
        media.append(MediaRecord(sha, len(data), mime, kind))
        seen.append(SightingRecord(sha, f"{report_url}m/{sha[:12]}", report_url, ip="192.0.2.10", country=country))
        return sha

    rng = random.Random(seed)
    for g, count in enumerate(groups):
        base_seed = seed * 100_003 + g
        if exact_hashes:
            first = hash_image(_variant(base_seed, 0, size))
            while first.pdq_quality < 50:  # too featureless to group by PDQ: draw another picture
                base_seed += 7_919_000
                first = hash_image(_variant(base_seed, 0, size))
            base_pdq = first.pdq
        else:
            base_pdq = rng.getrandbits(256).to_bytes(32, "big").hex()
        members = []
        for i in range(count):
            data = _variant(base_seed, i, size)
            sha = add(data, "image", "image/jpeg")
            if exact_hashes:
                h = hash_image(data) if i else first
                hashes += [HashRecord(sha, "pdq", h.pdq, h.pdq_quality), HashRecord(sha, "md5", h.md5)]
            else:
                flipped = bytearray.fromhex(base_pdq)
                flipped[i % 32] ^= 0x11 if i else 0
                hashes.append(HashRecord(sha, "pdq", flipped.hex(), 100))
            members.append(sha)
        out.append(members)
    for v in range(videos):
        sha = add(test_pattern_video(seed * 1000 + v), "video", "video/mp4")
        hashes.append(HashRecord(sha, "md5", "0" * 32))
        out.append([sha])
    known_items = []
    for k in range(known):
        data = _picture(seed * 7919 + 50_000 + k, size, 90)
        sha = add(data, "image", "image/jpeg")
        hashes.append(HashRecord(sha, "pdq", hash_image(data).pdq, 100))
        known_items.append(sha)
    catalog.record_crawl(report, CrawlResult(url=report_url, media=tuple(media), sightings=tuple(seen)))
    catalog.record_hashes(hashes)
    catalog.record_matches([MatchRecord(s, "sample-known", "sha256", 0, Verdict.BASELINE) for s in known_items])
    catalog.queue_unmatched([s for group in out for s in group])
    cluster_queue(catalog, ClusteringConfig(pdq_threshold=inst.settings.cluster_pdq_threshold))
    catalog.finish_report(report, failed=False)
    return out

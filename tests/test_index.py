"""The PDQ index: multi-index hashing returns exactly what brute force returns, is saved
and reopened without a rebuild, and follows a set's changes incrementally; the matcher
uses it for dihedral variants, categories, benign sets and vPDQ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synthetic import synthetic_video
from vectors import PDQ_VECTORS

import hashing.signals.pdq.set_index as set_index_module
from catalog.decisions.records import Verdict
from hashing import KnownSet, Matcher, MihIndex, PdqIndex, SetIndex, hash_image, hash_video, import_known_set
from hashing.signals.pdq import pdq_to_packed


def _random(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 256, (count, 32), dtype=np.uint8)


def _near(rng: np.random.Generator, rows: np.ndarray, max_bits: int) -> np.ndarray:
    bits = np.unpackbits(rows, axis=1)
    for row in bits:
        row[rng.choice(256, rng.integers(0, max_bits + 1), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _brute(entries: np.ndarray, queries: np.ndarray, radius: int) -> list[tuple[int, int, int]]:
    hits = PdqIndex(entries).query([q.tobytes().hex() for q in queries], radius)
    return [(q, h.index, h.distance) for q, found in enumerate(hits) for h in found]


@pytest.mark.parametrize("count", [1, 37, 5000])
@pytest.mark.parametrize("radius", [0, 10, 31, 47])
def test_multi_index_equals_brute_force(count: int, radius: int) -> None:
    rng = np.random.default_rng(count * 100 + radius)
    entries = _random(rng, count)
    entries[count // 2 :] = _near(rng, entries[: count - count // 2], 20)[: count - count // 2]  # clusters
    queries = np.concatenate([_near(rng, entries[rng.integers(0, count, 60)], 45), _random(rng, 20)])
    hits = MihIndex.build(entries).search(queries, radius)
    found = list(zip(hits.query.tolist(), hits.entry.tolist(), hits.distance.tolist(), strict=True))
    assert sorted(found, key=lambda h: (h[0], h[2], h[1])) == found
    assert found == sorted(_brute(entries, queries, radius), key=lambda h: (h[0], h[2], h[1]))


def test_saved_index_reopens_without_rebuilding(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    entries = _random(rng, 3000)
    queries = _near(rng, entries[:50], 31)
    built = MihIndex.build(entries)
    built.save(tmp_path / "mih")
    loaded = MihIndex.load(tmp_path / "mih")
    assert isinstance(loaded.words, np.memmap)
    a, b = built.search(queries, 31), loaded.search(queries, 31)
    assert a.entry.tolist() == b.entry.tolist() and len(a) >= 50
    empty = MihIndex.build(entries[:0])
    empty.save(tmp_path / "empty")
    assert len(MihIndex.load(tmp_path / "empty").search(queries, 31)) == 0


def _set_file(tmp_path: Path, name: str, pdqs: list[str], ids: list[str] | None = None) -> tuple[Path, str]:
    source = tmp_path / f"{name}-{len(pdqs)}-in.parquet"
    pq.write_table(pa.table({"pdq": pdqs, "id": ids or [f"k{n}" for n in range(len(pdqs))]}), source)
    imported = import_known_set(source, tmp_path / "sets", name)
    return imported.path, imported.content_sha256


def test_set_index_is_persisted_and_updated_incrementally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(9)
    hashes = [row.tobytes().hex() for row in _random(rng, 400)]
    folder = tmp_path / "index" / "s"
    path, content = _set_file(tmp_path, "s", hashes)
    first = SetIndex.open(folder, path, content)
    assert (len(first), first.segments) == (400, 1)

    def no_rebuild(*args: object) -> None:
        raise AssertionError("rebuilt although nothing changed")

    monkeypatch.setattr(set_index_module.MihIndex, "build", no_rebuild)
    again = SetIndex.open(folder, path, content)  # a restart: opened, not rebuilt
    assert len(again) == 400
    monkeypatch.undo()

    changed = hashes[5:] + [row.tobytes().hex() for row in _random(rng, 20)]  # 5 out, 20 in
    path2, content2 = _set_file(tmp_path, "s", changed)
    updated = SetIndex.open(folder, path2, content2)
    assert (len(updated), updated.segments) == (415, 2)
    found = {m.value for m in updated.search(hashes[:10] + changed[-3:], 0)}
    assert found == set(hashes[5:10] + changed[-3:])  # removed ones are gone, new ones there

    path3, content3 = _set_file(tmp_path, "s", hashes[:100])  # most rows left: rebuilt compact
    compact = SetIndex.open(folder, path3, content3)
    assert (len(compact), compact.segments) == (100, 1)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("segment")) == [
        compact._segments[0].name
    ]


# --- the matcher on top of the index -------------------------------------------------


def test_turned_copies_match_through_dihedral_variants(tmp_path: Path) -> None:
    folder = PDQ_VECTORS / "reg-test-input" / "dih"
    original = hash_image((folder / "bridge-1-original.jpg").read_bytes())
    path, _ = _set_file(tmp_path, "dih", [original.pdq], ["bridge"])
    matcher = Matcher([KnownSet("dih", path, Verdict.BASELINE)])
    turned = [hash_image(p.read_bytes()) for p in sorted(folder.glob("bridge-[2-8]*.jpg"))]
    matches = matcher.match(turned)
    assert [m.sha256 for m in matches] == [t.sha256 for t in turned]
    assert all(m.match_type == "pdq" and m.distance <= 31 and m.known_id == "bridge" for m in matches)


def test_categories_map_to_verdicts_and_benign_sets_say_not_illegal(tmp_path: Path) -> None:
    a = hash_image((PDQ_VECTORS / "bridge-mods" / "aaa-orig.jpg").read_bytes())
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"md5": [a.md5], "pdq": [a.pdq], "category": ["1"]}), source)
    path = import_known_set(source, tmp_path / "sets", "vic").path
    mapped = KnownSet("vic", path, Verdict.NATIONAL, category_verdicts={"1": Verdict.BASELINE})
    assert {m.verdict for m in Matcher([mapped]).match([a])} == {Verdict.BASELINE}
    # a category the set does not map decides nothing: the match goes to review as a hint
    other = KnownSet("vic", path, Verdict.NATIONAL, category_verdicts={"2": Verdict.BASELINE})
    assert {m.verdict for m in Matcher([other]).match([a])} == {None}
    reviewed = KnownSet("vic", path, None, category_verdicts={"1": None}, categorized=True)
    assert {m.verdict for m in Matcher([reviewed]).match([a])} == {None}
    benign = KnownSet("vic", path, Verdict.BASELINE, benign=True)
    assert {m.verdict for m in Matcher([benign]).match([a])} == {Verdict.NOT_ILLEGAL}


def test_videos_match_known_videos_the_vpdq_way(tmp_path: Path) -> None:
    known = hash_video(synthetic_video(5.0, seed=3))
    copy = hash_video(synthetic_video(5.0, (320, 280), seed=3, bars=20))  # letterboxed re-encode
    other = hash_video(synthetic_video(5.0, seed=4))
    frames = [f.pdq for f in known.frames]
    path, _ = _set_file(tmp_path, "videos", frames, ["clip-3"] * len(frames))
    matcher = Matcher([KnownSet("videos", path, Verdict.BASELINE)], vpdq_threshold=0.6)
    matches = matcher.match([copy, other])
    assert [(m.sha256, m.match_type, m.known_id) for m in matches] == [(copy.sha256, "vpdq", "clip-3")]
    assert 0 <= matches[0].distance <= 40
    assert pdq_to_packed(frames).shape == (len(frames), 32)


def test_digest_index_finds_every_row_and_is_reused(tmp_path: Path) -> None:
    from hashing.knownsets.digest_index import open_digest_index

    md5s = [f"{n:032x}" for n in (5, 3, 3, 9)] + [None]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"md5": md5s, "sha1": [None, None, None, None, "a" * 40],
                             "id": ["e", "c", "d", "n", "s"]}), source)  # fmt: skip
    imported = import_known_set(source, tmp_path / "sets", "d")
    folder = tmp_path / "sets" / "index" / "d"
    digests = open_digest_index(folder, imported.path, imported.content_sha256)
    rows = pq.read_table(imported.path).to_pylist()
    found = digests.lookup("md5", [f"{3:032x}", f"{7:032x}", None])
    assert sorted(rows[int(r)]["id"] for r in found[0]) == ["c", "d"]
    assert [len(found[1]), len(found[2])] == [0, 0]
    assert [rows[int(r)]["id"] for r in digests.lookup("sha1", ["a" * 40])[0]] == ["s"]
    assert len(digests.lookup("sha256", ["0" * 64])[0]) == 0  # an all-null column
    built = sorted(p.name for p in folder.iterdir())
    open_digest_index(folder, imported.path, imported.content_sha256)
    assert sorted(p.name for p in folder.iterdir()) == built

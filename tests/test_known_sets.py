"""Known-hash sets: import validation and normalisation, and batch matching.

Only benign, synthesised images (Pillow shapes over gradients) are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from synthetic import encoded as encode
from synthetic import synthetic_picture as synthetic_image

import hashing.signals.pdq.brute_force as pdq_index_module
from catalog.decisions.records import Verdict
from hashing import (
    ImageHashes,
    KnownSet,
    KnownSetError,
    Matcher,
    PdqIndex,
    hash_image,
    import_known_set,
    pdq_distance,
)
from hashing.knownsets import columns


def write_source(path: Path, columns: Mapping[str, Sequence[object]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


MD5_A, MD5_B = "a" * 32, "0123456789abcdef" * 2
PDQ_A = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"


# --- import --------------------------------------------------------------------------


def test_import_normalises_and_deduplicates(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "in.parquet",
        {
            "md5": [f" {MD5_A.upper()} ", MD5_B, MD5_B, None],
            "pdq": [None, PDQ_A.upper(), PDQ_A, PDQ_A],
            "id": ["k1", "k2", "k2", "k3"],
        },
    )
    known = import_known_set(source, tmp_path / "sets", "Test-Set_1")
    assert known.name == "test-set_1"
    assert known.path == tmp_path / "sets" / f"test-set_1-{known.content_sha256[:16]}.parquet"
    assert known.rows == 3
    assert len(known.content_sha256) == 64
    table = pq.read_table(known.path)
    assert table.column_names == list(columns())
    assert all(table.schema.field(c).type == pa.string() for c in columns())
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == [
        {
            "md5": MD5_A,
            "sha1": None,
            "sha256": None,
            "pdq": None,
            "id": "k1",
            "category": None,
        },
        {
            "md5": MD5_B,
            "sha1": None,
            "sha256": None,
            "pdq": PDQ_A,
            "id": "k2",
            "category": None,
        },
        {
            "md5": None,
            "sha1": None,
            "sha256": None,
            "pdq": PDQ_A,
            "id": "k3",
            "category": None,
        },
    ]
    assert sorted(p.name for p in (tmp_path / "sets").iterdir()) == [known.path.name]


def test_reimport_is_idempotent_and_order_independent(tmp_path: Path) -> None:
    rows: dict[str, list[str | None]] = {
        "sha256": ["1" * 64, "2" * 64, "3" * 64],
        "category": ["x", None, "y"],
    }
    first = import_known_set(
        write_source(tmp_path / "a.parquet", rows), tmp_path / "out", "s"
    )
    first_bytes = first.path.read_bytes()
    again = import_known_set(tmp_path / "a.parquet", tmp_path / "out", "s")
    assert again == first
    assert again.path.read_bytes() == first_bytes
    shuffled = {k: v[::-1] for k, v in rows.items()}
    other = import_known_set(
        write_source(tmp_path / "b.parquet", shuffled), tmp_path / "o2", "s"
    )
    assert other.content_sha256 == first.content_sha256
    changed = import_known_set(
        write_source(tmp_path / "c.parquet", {**rows, "category": ["x", None, "z"]}),
        tmp_path / "o3",
        "s",
    )
    assert changed.content_sha256 != first.content_sha256


def _csv_list(path: Path, rows: int, bad_line: int | None = None) -> Path:
    """A CSV list with repeated rows, mixed-case hex and categories; ``bad_line``: a bad MD5."""
    rng = np.random.default_rng(7)
    lines = ["MD5,sha1,category"]
    for n in range(rows):
        md5 = rng.bytes(16).hex().upper() if n % 3 else rng.bytes(16).hex()
        lines.append(f"{md5},{rng.bytes(20).hex()},{1 + n % 2}")
        if n % 10 == 9:
            lines.append(lines[-1])
    if bad_line is not None:
        lines[bad_line - 1] = "not-a-hash," + lines[bad_line - 1].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_list_read_in_batches_is_the_list_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashing.knownsets.formats import base, read_source
    from hashing.knownsets.importer import content_sha256, normalise

    source = _csv_list(tmp_path / "list.csv", 200)
    whole = normalise(read_source(source).table)
    monkeypatch.setattr(base, "BATCH_ROWS", 7)  # 31 batches, duplicates across them
    streamed = import_known_set(source, tmp_path / "known", "s")
    assert streamed.rows == whole.num_rows == 200
    assert streamed.content_sha256 == content_sha256(whole)
    assert pq.read_table(streamed.path).select(list(columns())).equals(whole)
    parquet = write_source(tmp_path / "list.parquet", {c: whole.column(c).to_pylist() for c in whole.column_names})
    assert import_known_set(parquet, tmp_path / "again", "s").content_sha256 == streamed.content_sha256
    assert [p.name for p in (tmp_path / "known").iterdir()] == [streamed.path.name]  # no spill or sort files


def test_a_bad_row_in_a_later_batch_is_named_by_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashing.knownsets.formats import base

    monkeypatch.setattr(base, "BATCH_ROWS", 7)
    source = _csv_list(tmp_path / "list.csv", 60, bad_line=50)
    (tmp_path / "known").mkdir()
    with pytest.raises(KnownSetError, match="line 50: column 'md5': 'not-a-hash'"):
        import_known_set(source, tmp_path / "known", "s")
    assert list((tmp_path / "known").iterdir()) == []


def test_bad_hex_names_row_column_and_value_and_writes_nothing(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "in.parquet",
        {
            "md5": [MD5_A, MD5_B, "not-a-md5-hash", MD5_A],
            "sha1": ["b" * 40, None, None, "zz"],
        },
    )
    dest = tmp_path / "sets"
    with pytest.raises(
        KnownSetError, match=r"row 3: column 'md5': 'not-a-md5-hash' is not a md5"
    ):
        import_known_set(source, dest, "s")
    assert not dest.exists() or not any(dest.iterdir())


def test_first_bad_row_wins_across_columns(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "in.parquet",
        {
            "md5": [MD5_A, MD5_A, "short"],
            "pdq": [PDQ_A, PDQ_A[:-1] + "g", PDQ_A],
        },
    )
    with pytest.raises(KnownSetError, match=r"row 2: column 'pdq': '.*g'"):
        import_known_set(source, tmp_path, "s")


def test_row_without_any_hash_is_refused(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "in.parquet", {"md5": [MD5_A, "  ", None], "id": ["1", "2", "3"]}
    )
    with pytest.raises(KnownSetError, match="row 2: no hash"):
        import_known_set(source, tmp_path / "out", "s")
    assert not (tmp_path / "out").exists()


def test_file_without_hash_columns_is_refused(tmp_path: Path) -> None:
    source = write_source(tmp_path / "in.parquet", {"id": ["1"], "category": ["c"]})
    with pytest.raises(KnownSetError, match="no hash column"):
        import_known_set(source, tmp_path, "s")


def test_unknown_columns_are_refused(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "in.parquet", {"md5": [MD5_A], "url": ["http://example.org"]}
    )
    with pytest.raises(KnownSetError, match=r"unknown column.*'url'"):
        import_known_set(source, tmp_path, "s")


def test_non_string_hash_column_is_refused(tmp_path: Path) -> None:
    source = write_source(tmp_path / "in.parquet", {"md5": [1, 2]})
    with pytest.raises(KnownSetError, match="column 'md5' has type int64"):
        import_known_set(source, tmp_path, "s")


def test_unreadable_source_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    source.write_bytes(b"md5\n" + MD5_A.encode())
    with pytest.raises(KnownSetError, match="cannot read .* as Parquet"):
        import_known_set(source, tmp_path / "out", "s", fmt="parquet")


@pytest.mark.parametrize(
    "name", ["", "-lead", ".hidden", "a/b", "../up", "x" * 65, "sp ace", "nl\n", "é"]
)
def test_bad_set_names_are_refused(tmp_path: Path, name: str) -> None:
    source = write_source(tmp_path / "in.parquet", {"md5": [MD5_A]})
    with pytest.raises(KnownSetError, match="invalid known-set name"):
        import_known_set(source, tmp_path / "out", name)
    assert not (tmp_path / "out").exists()


# --- matching ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    original = synthetic_image(100)
    edited = original.resize((288, 216), Image.Resampling.BILINEAR)
    return {
        "a": encode(original),
        "a_edit": encode(edited, "JPEG", quality=70),
        "b": encode(synthetic_image(101)),
        "c": encode(synthetic_image(102)),
    }


@pytest.fixture(scope="module")
def hashed(images: dict[str, bytes]) -> dict[str, ImageHashes]:
    return {key: hash_image(data) for key, data in images.items()}


@pytest.fixture
def known_set(tmp_path: Path, hashed: dict[str, ImageHashes]) -> KnownSet:
    a, b = hashed["a"], hashed["b"]
    source = write_source(
        tmp_path / "in.parquet",
        {
            "sha256": [a.sha256, None, None],
            "md5": [None, b.md5, None],
            "pdq": [None, None, a.pdq],
            "id": ["known-a", "known-b", "known-a-pdq"],
            "category": ["A1", "B1", "A1"],
        },
    )
    imported = import_known_set(source, tmp_path / "sets", "baseline-list")
    mapping = {"A1": Verdict.BASELINE, "B1": Verdict.BASELINE}
    return KnownSet(imported.name, imported.path, None, category_verdicts=mapping, categorized=True)


def test_exact_and_pdq_matches(
    known_set: KnownSet, hashed: dict[str, ImageHashes]
) -> None:
    a, b = hashed["a"], hashed["b"]
    matches = Matcher([known_set]).match([a, b])
    assert [(m.sha256, m.match_type, m.distance, m.known_id) for m in matches] == [
        (a.sha256, "sha256", 0, "known-a"),
        (a.sha256, "pdq", 0, "known-a-pdq"),
        (b.sha256, "md5", 0, "known-b"),
    ]
    assert {m.set_name for m in matches} == {"baseline-list"}
    assert {m.verdict for m in matches} == {Verdict.BASELINE}
    assert [m.category for m in matches] == ["A1", "A1", "B1"]


def test_reencoded_resized_copy_matches_by_pdq(
    known_set: KnownSet, hashed: dict[str, ImageHashes]
) -> None:
    edit = hashed["a_edit"]
    distance = pdq_distance(edit.pdq, hashed["a"].pdq)
    assert 0 < distance <= 31
    matches = Matcher([known_set]).match([edit])
    assert [(m.match_type, m.distance, m.known_id) for m in matches] == [
        ("pdq", distance, "known-a-pdq")
    ]
    strict = KnownSet(
        known_set.name, known_set.path, known_set.verdict, pdq_threshold=distance - 1
    )
    assert Matcher([strict]).match([edit]) == []


def test_unrelated_image_does_not_match(
    known_set: KnownSet, hashed: dict[str, ImageHashes]
) -> None:
    assert pdq_distance(hashed["c"].pdq, hashed["a"].pdq) > 31
    assert Matcher([known_set]).match([hashed["c"]]) == []


def test_min_quality_filters_only_pdq(
    known_set: KnownSet, hashed: dict[str, ImageHashes]
) -> None:
    matches = Matcher([known_set], min_quality=101).match(
        [hashed["a"], hashed["a_edit"]]
    )
    assert [m.match_type for m in matches] == ["sha256"]


def test_best_match_per_item_set_and_type(
    tmp_path: Path, hashed: dict[str, ImageHashes]
) -> None:
    a, edit = hashed["a"], hashed["a_edit"]
    source = write_source(
        tmp_path / "in.parquet",
        {
            "pdq": [edit.pdq, a.pdq, "0" * 64],
            "md5": [a.md5, a.md5, None],
            "id": ["far", "near", "zero"],
        },
    )
    imported = import_known_set(source, tmp_path / "sets", "national")
    second = import_known_set(source, tmp_path / "sets", "second")
    matcher = Matcher(
        [
            KnownSet("national", imported.path, Verdict.NATIONAL),
            KnownSet("second", second.path, Verdict.NOT_ILLEGAL),
        ]
    )
    matches = matcher.match([a])
    assert [(m.set_name, m.match_type, m.distance, m.known_id) for m in matches] == [
        ("national", "md5", 0, "far"),
        ("national", "pdq", 0, "near"),
        ("second", "md5", 0, "far"),
        ("second", "pdq", 0, "near"),
    ]
    assert [m.verdict for m in matches] == [Verdict.NATIONAL] * 2 + [
        Verdict.NOT_ILLEGAL
    ] * 2


def test_matcher_refuses_bad_sets(tmp_path: Path, known_set: KnownSet) -> None:
    with pytest.raises(KnownSetError, match="unique"):
        Matcher([known_set, known_set])
    with pytest.raises(KnownSetError, match="cannot read"):
        Matcher([KnownSet("gone", tmp_path / "missing.parquet", Verdict.BASELINE)])
    raw = write_source(tmp_path / "raw.parquet", {"md5": [MD5_A]})
    with pytest.raises(KnownSetError, match="not a normalised set"):
        Matcher([KnownSet("raw", raw, Verdict.BASELINE)])
    with pytest.raises(KnownSetError, match="pdq_threshold"):
        KnownSet("x", raw, Verdict.BASELINE, pdq_threshold=257)


def test_empty_inputs(known_set: KnownSet) -> None:
    assert Matcher([known_set]).match([]) == []
    assert Matcher([]).match([]) == []


# --- PdqIndex ------------------------------------------------------------------------


def _random_hashes(rng: np.random.Generator, count: int) -> list[str]:
    return [
        bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)
    ]


def _near(rng: np.random.Generator, value: str, bits: int) -> str:
    flipped = int(value, 16)
    for bit in rng.choice(256, bits, replace=False):
        flipped ^= 1 << int(bit)
    return f"{flipped:064x}"


@pytest.mark.parametrize("block_words", [pdq_index_module._BLOCK_WORDS, 12])
def test_pdq_index_equals_naive_brute_force(
    monkeypatch: pytest.MonkeyPatch, block_words: int
) -> None:
    monkeypatch.setattr(pdq_index_module, "_BLOCK_WORDS", block_words)
    rng = np.random.default_rng(7)
    entries = _random_hashes(rng, 200)
    queries = [
        _near(rng, entries[n], bits)
        for n, bits in zip(range(0, 200, 10), range(0, 40, 2), strict=True)
    ]
    queries += _random_hashes(rng, 5)
    index = PdqIndex.build(entries)
    assert len(index) == 200
    results = index.query(queries, threshold=31)
    for query, hits in zip(queries, results, strict=True):
        expected = sorted(
            (pdq_distance(query, entry), n)
            for n, entry in enumerate(entries)
            if pdq_distance(query, entry) <= 31
        )
        assert [(h.distance, h.index) for h in hits] == expected
    assert sum(map(len, results)) == 16  # near copies up to 30 bits; random ones never


def test_pdq_index_empty() -> None:
    assert PdqIndex.build([]).query(["0" * 64]) == [[]]
    assert PdqIndex.build(["0" * 64]).query([]) == []


def test_popcount_fallback_for_numpy_1() -> None:
    words = np.random.default_rng(3).integers(0, 2**63, (50, 4), dtype=np.uint64)
    expected = [[bin(int(w)).count("1") for w in row] for row in words]
    assert pdq_index_module._popcount_by_table(words).tolist() == expected


# --- other list formats --------------------------------------------------------------

SHA1_A = "b" * 40


def test_csv_with_any_hash_columns(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text(f"MD5;SHA1;Category;notes\n{MD5_A};{SHA1_A};1;first\n;{SHA1_A.upper()};2;\n")
    known = import_known_set(source, tmp_path / "sets", "csv-set")
    assert known.source_format == "csv" and known.rows == 2
    rows = pq.read_table(known.path).to_pylist()
    assert {(r["md5"], r["sha1"], r["category"]) for r in rows} == {(MD5_A, SHA1_A, "1"), (None, SHA1_A, "2")}


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    bad_hex = tmp_path / "bad.csv"
    bad_hex.write_text(f"md5,id\n{MD5_A},1\n{MD5_A},2\nnot-hex,3\n")
    with pytest.raises(KnownSetError, match=r"line 4: column 'md5': 'not-hex'"):
        import_known_set(bad_hex, tmp_path / "sets", "s")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(f"md5,id\n{MD5_A},1\n{MD5_A}\n")
    with pytest.raises(KnownSetError, match="line 3: 1 fields, the header has 2"):
        import_known_set(ragged, tmp_path / "sets", "s")
    no_hash = tmp_path / "nohash.csv"
    no_hash.write_text("url,id\nhttp://x,1\n")
    with pytest.raises(KnownSetError, match="no hash column"):
        import_known_set(no_hash, tmp_path / "sets", "s")
    assert not (tmp_path / "sets").exists()


@pytest.mark.parametrize(
    "envelope",
    [
        {"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media"},
        {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"},
    ],
    ids=["vics-1", "vics-2"],
)
def test_vics_json(tmp_path: Path, envelope: dict[str, str]) -> None:
    import json

    media = [
        {"MediaID": 1, "Category": 1, "MD5": MD5_A.upper(), "SHA1": SHA1_A, "MediaSize": 2835},
        {"MediaID": 2, "Category": 3, "MD5": MD5_B, "IsPrecategorized": "true"},
    ]
    source = tmp_path / "vics.json"
    source.write_text(json.dumps({**envelope, "value": media}))
    known = import_known_set(source, tmp_path / "sets", "vic")
    assert known.source_format == "vics" and known.rows == 2
    rows = {r["id"]: r for r in pq.read_table(known.path).to_pylist()}
    assert rows["1"]["md5"] == MD5_A and rows["1"]["category"] == "1" and rows["2"]["sha1"] is None
    media[1]["MD5"] = "zz"
    source.write_text(json.dumps({**envelope, "value": media}))
    with pytest.raises(KnownSetError, match=r"record 2 \(MediaID 2\): column 'md5': 'zz'"):
        import_known_set(source, tmp_path / "sets", "vic")


def test_vics_1x_cases_are_flattened_and_bad_documents_refused(tmp_path: Path) -> None:
    import json

    source = tmp_path / "cases.json"
    source.write_text(json.dumps({"odata.metadata": "x#Cases", "value": [
        {"CaseID": 7, "Media": [{"MediaID": 1, "MD5": MD5_A}, {"MediaID": 2, "SHA1": SHA1_A}]},
    ]}))  # fmt: skip
    assert import_known_set(source, tmp_path / "sets", "cases").rows == 2
    for text, words in [
        ('{"value": []}', "not a VICS document"),
        ('{"@odata.context": "x", "value": {}}', "must be a list"),
        ('{"@odata.context": "x", "value": [{"MediaID": 1}]}', r"record 1 \(MediaID 1\): no hash"),
        ('{"@odata.context": "x", "value": [', "not valid JSON at line 1"),
    ]:
        source.write_text(text)
        with pytest.raises(KnownSetError, match=words):
            import_known_set(source, tmp_path / "sets", "cases", fmt="vics")


def test_icse_semicolon_export(tmp_path: Path) -> None:
    source = tmp_path / "icse.csv"
    source.write_text(
        "MD5;SHA1;PhotoDNA;Width;Height;Baseline\n"
        f"{MD5_A};{SHA1_A};AAAAB3Nza;640;480;1\n"
        f"{MD5_B};;;320;200;0\n"
    )
    known = import_known_set(source, tmp_path / "sets", "icse")
    assert known.source_format == "icse"
    rows = {r["md5"]: r["category"] for r in pq.read_table(known.path).to_pylist()}
    assert rows == {MD5_A: "baseline", MD5_B: "non-baseline"}
    source.write_text(f"MD5;SHA1;PhotoDNA;Baseline\n{MD5_A};;;maybe\n")
    with pytest.raises(KnownSetError, match="line 2: column 'Baseline': 'maybe'"):
        import_known_set(source, tmp_path / "sets", "icse")


def test_a_vics_file_nested_too_deeply_is_refused_with_a_reason(tmp_path: Path) -> None:
    source = tmp_path / "deep.json"
    depth = 100_000
    source.write_text('{"@odata.context": "x", "value": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(KnownSetError, match="nested too deeply"):
        import_known_set(source, tmp_path / "sets", "deep")


def test_detection_reads_only_the_first_bytes_and_refuses_junk(tmp_path: Path) -> None:
    import os
    import tracemalloc

    junk = tmp_path / "junk.bin"
    with open(junk, "wb") as out:
        out.write(b"\x00\xff" + os.urandom(1 << 20))
        for _ in range(31):  # 32 MiB, sparse
            out.seek(1 << 20, os.SEEK_CUR)
        out.write(b"\x00")
    tracemalloc.start()
    try:
        with pytest.raises(KnownSetError, match="first bytes are neither Parquet, JSON nor UTF-8 text"):
            import_known_set(junk, tmp_path / "sets", "junk")
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # the whole file would be 33 MiB, and twice that decoded
    text = tmp_path / "list.txt"
    text.write_text("md5\n" + MD5_A + "\n")
    assert import_known_set(text, tmp_path / "sets", "text").rows == 1  # text still falls back to CSV

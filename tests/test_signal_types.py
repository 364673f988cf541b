"""The plug-in seams of hashing. The contract every signal type keeps, checked against each
registered one with its own examples: a new hash gets these tests by being registered.
Then a toy signal type and a toy known-set format, defined in this file only, go the whole
way (hashed, stored, imported, matched) without a line changed elsewhere.

Only benign inputs: synthesised pictures and bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageStat
from synthetic import encoded, synthetic_picture

from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from hashing import (
    InvalidHashError,
    KnownSetError,
    Matcher,
    hash_image,
    hash_stored_media,
    import_known_set,
    known_sets_of,
    match_stored_media,
)
from hashing.knownsets.formats import FORMATS, KnownSetFormat, SourceTable, detect_format
from hashing.media import summarise
from hashing.signals import SIGNAL_TYPES, BytesHasher, ImageHasher, LinearIndex, Picture, SignalHash, SignalType
from hashing.signals.base import CONTENT_TYPES
from hotline.installation import Installation

ALGORITHM_WIDTH = 16
"""``hashes.algorithm`` and ``matches.match_type`` are 16 characters wide in the catalog."""


def check_signal_type(signal: type[SignalType], tmp_path: Path) -> None:
    """What any signal type must do, from its class attributes and ``get_examples``."""
    check_hex_form(signal)
    check_declarations(signal)
    check_hashing(signal)
    check_index(signal, tmp_path)


def check_hex_form(signal: type[SignalType]) -> None:
    examples = signal.get_examples()
    assert examples and len(set(examples)) == len(examples)
    for example in examples:
        assert signal.validate_hex(example) == example
        assert len(example) == signal.hex_length
        assert signal.validate_hex(f"  {example.upper()}\n") == example
        assert signal.distance(example, example) == 0
        with pytest.raises(InvalidHashError):
            signal.validate_hex(example[:-1])
        with pytest.raises(InvalidHashError):
            signal.validate_hex("g" + example[1:])
    a, b = examples[0], examples[-1]
    assert signal.distance(a, b) == signal.distance(b, a)


def check_declarations(signal: type[SignalType]) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", signal.name), signal.name
    assert signal.hex_length > 0 and signal.hex_length % 2 == 0  # whole bytes
    assert signal.content_types and signal.content_types <= CONTENT_TYPES
    suffixes = [""]
    if "video" in signal.content_types:
        assert issubclass(signal, BytesHasher)  # a video's frames are hashed by PDQ alone (vPDQ)
    if issubclass(signal, ImageHasher):
        assert signal.content_types == {"image"}  # a video has no one picture to hash
        suffixes += [f"_{v}" for v in signal.variant_names] + ["_untrimmed"] * signal.hash_untrimmed
    assert len(signal.name + max(suffixes, key=len)) <= ALGORITHM_WIDTH
    others = {n for other in SIGNAL_TYPES.values() if other is not signal for n in (other.name, *other.column_aliases)}
    for alias in signal.column_aliases:
        assert alias == alias.lower() and alias not in others and alias not in ("id", "category", "quality")
    assert signal.name not in others
    if signal.index_cls is None:
        assert signal.match_threshold == 0  # without an index only exact lookups happen
    else:
        assert signal.match_threshold > 0 and signal.known_set_column


def check_hashing(signal: type[SignalType]) -> None:
    if issubclass(signal, BytesHasher):
        computed = signal.hash_bytes(b"benign bytes")
        assert signal.hash_bytes(b"benign bytes") == computed
    else:
        assert issubclass(signal, ImageHasher)
        picture = synthetic_picture(11)
        computed = signal.hash_image(picture)
        with_variants = signal.hash_with_variants(Picture(picture))
        assert with_variants.value == computed.value
        assert len(with_variants.variants) == len(signal.variant_names)
        assert all(signal.validate_hex(v) == v for v in with_variants.variants)
    assert signal.validate_hex(computed.value) == computed.value
    assert (computed.quality is not None) == signal.has_quality
    assert computed.quality is None or 0 <= computed.quality <= 100


def check_index(signal: type[SignalType], tmp_path: Path) -> None:
    """A set holding the examples: the index finds each of them, at distance 0."""
    if signal.index_cls is None:
        return
    examples = signal.get_examples()
    source = tmp_path / f"{signal.name}-examples.parquet"
    pq.write_table(pa.table({signal.name: examples}), source)
    imported = import_known_set(source, tmp_path / "sets", "examples")
    index = signal.index_cls.open(tmp_path / "index", imported.path, imported.content_sha256, signal.name)
    hits = index.search(examples, 0)
    assert [(h.query, h.value, h.distance) for h in hits] == [(n, e, 0) for n, e in enumerate(examples)]
    near = index.search(examples[:1], signal.match_threshold)
    assert all(h.distance == signal.distance(examples[0], h.value) <= signal.match_threshold for h in near)


@pytest.mark.parametrize("signal", SIGNAL_TYPES.values(), ids=list(SIGNAL_TYPES))
def test_signal_type_contract(signal: type[SignalType], tmp_path: Path) -> None:
    check_signal_type(signal, tmp_path)


def test_a_part_of_a_picture_shares_the_pixels_and_luma_read_once_for_the_whole() -> None:
    """Every image hasher gets a ``Picture``: its pixels are read out of Pillow once and
    a trimmed part is a view of them, not another read."""
    whole = Picture(synthetic_picture(11))
    part = whole.crop((10, 20, 110, 90))
    assert part.pixels.shape == (70, 100, 3) and np.shares_memory(part.pixels, whole.pixels)
    assert np.array_equal(part.pixels, np.asarray(part.image))
    assert np.shares_memory(part.luma, whole.luma) and part.luma.shape == (70, 100)
    assert part.full is None and part.scale == whole.scale


# --- a signal type added in this file only ---------------------------------------------


class MeanColourSignal(SignalType, ImageHasher):
    """A toy perceptual hash: the picture's mean red, green and blue, one byte each."""

    name = "mean_colour"
    hex_length = 6
    content_types = frozenset({"image"})
    column_aliases = ("mean-colour",)
    match_threshold = 2
    index_cls = LinearIndex

    @classmethod
    def hash_image(cls, image: Image.Image) -> SignalHash:
        red, green, blue = (int(c) for c in ImageStat.Stat(image.convert("RGB")).mean)
        return SignalHash(f"{red:02x}{green:02x}{blue:02x}")

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["000000", "7f8081", "ffffff"]


@pytest.fixture
def mean_colour(monkeypatch: pytest.MonkeyPatch) -> type[SignalType]:
    """The toy registered for one test, as a new signal type is listed in SIGNAL_TYPES."""
    monkeypatch.setitem(SIGNAL_TYPES, MeanColourSignal.name, MeanColourSignal)
    return MeanColourSignal


def test_an_added_signal_type_keeps_the_contract(mean_colour: type[SignalType], tmp_path: Path) -> None:
    check_signal_type(mean_colour, tmp_path)


def _store(inst: Installation, data: bytes) -> str:
    """Put one picture into the evidence store and the catalog as a crawl would."""
    sha256 = inst.evidence.put(data)
    report = inst.catalog.add_report("http://gallery.test/", actor="test")
    inst.catalog.record_crawl(report, CrawlResult(
        url="http://gallery.test/", media=(MediaRecord(sha256, len(data), kind="image"),),
        sightings=(SightingRecord(sha256, "http://gallery.test/0", "http://gallery.test/"),),
    ))  # fmt: skip
    return sha256


def test_an_added_signal_type_is_hashed_stored_imported_and_matched(
    mean_colour: type[SignalType], installation: Installation, tmp_path: Path
) -> None:
    picture, other = encoded(synthetic_picture(70)), encoded(synthetic_picture(71))
    colour = MeanColourSignal.hash_image(synthetic_picture(70)).value
    assert hash_image(picture).signals["mean_colour"].value == colour  # computed for new media
    shas = [_store(installation, data) for data in (picture, other)]
    batch = hash_stored_media(installation.evidence.get, shas)
    installation.catalog.record_hashes(batch.records, batch.frames)
    assert installation.catalog.hashes_of(shas[:1])[shas[0]]["mean_colour"].value == colour  # stored

    near = f"{int(colour, 16) ^ 1:06x}"  # one bit away: within the toy's threshold of 2
    listing = tmp_path / "colours.csv"
    listing.write_text(f"Mean-Colour,MediaID\n{near},c-1\n")
    imported, _ = installation.import_known_set(listing, "colours", Verdict.BASELINE)
    assert pq.read_table(imported.path).column("mean_colour").to_pylist() == [near]  # imported from its column

    matches = match_stored_media(installation.catalog, shas)  # rebuilt from the stored records
    assert [(m.sha256, m.match_type, m.distance, m.known_id, m.known_hash, m.verdict) for m in matches] == [
        (shas[0], "mean_colour", 1, "c-1", near, Verdict.BASELINE)
    ]
    assert summarise(hash_image(other))["mean_colour"] == MeanColourSignal.hash_image(synthetic_picture(71)).value


def test_sets_without_an_added_signal_types_column_still_match(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = hash_image(encoded(synthetic_picture(72)))
    listing = tmp_path / "older.csv"
    listing.write_text(f"md5,MediaID\n{picture.md5},old-1\n")
    imported, _ = installation.import_known_set(listing, "older", Verdict.NATIONAL)
    monkeypatch.setitem(SIGNAL_TYPES, MeanColourSignal.name, MeanColourSignal)  # added after the import
    assert "mean_colour" not in pq.read_schema(imported.path).names
    matches = Matcher(known_sets_of(installation.catalog)).match([hash_image(encoded(synthetic_picture(72)))])
    assert [(m.match_type, m.known_id) for m in matches] == [("md5", "old-1")]


# --- a known-set format added in this file only -----------------------------------------


def _read_toy(path: Path) -> SourceTable:
    """``#toy-hashes`` then one ``md5 category`` pair a line."""
    lines = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    table = pa.table({"md5": [md5 for md5, _ in lines], "category": [c for _, c in lines]})
    return SourceTable(table, lambda row: f"line {row + 2}", "toy")


TOY_FORMAT = KnownSetFormat("toy", _read_toy, detect=lambda head: head.startswith(b"#toy-hashes"),
                            category_profile="hotline")


def test_an_added_known_set_format_is_detected_read_and_matched(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMATS, TOY_FORMAT.name, TOY_FORMAT)
    picture = hash_image(encoded(synthetic_picture(73)))
    listing = tmp_path / "partner.txt"
    listing.write_text(f"#toy-hashes\n{picture.md5} baseline\n{'0' * 32} not-illegal\n")
    assert detect_format(listing) == "toy"
    imported, _ = installation.import_known_set(listing, "partner", None)  # its profile maps the categories
    assert imported.source_format == "toy" and imported.rows == 2
    assert imported.categories is not None and imported.categories.profile == "hotline"
    matches = Matcher(known_sets_of(installation.catalog)).match([picture])
    assert [(m.match_type, m.category, m.verdict) for m in matches] == [("md5", "baseline", Verdict.BASELINE)]
    listing.write_text(f"#toy-hashes\n{'x' * 32} baseline\n")
    with pytest.raises(KnownSetError, match=r"line 2: column 'md5'"):
        installation.import_known_set(listing, "partner", None)

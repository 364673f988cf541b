"""The contract every signal type keeps, checked against each registered one with its own
examples: a new hash gets these tests by being registered.

Only benign inputs: synthesised pictures and bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synthetic import synthetic_picture

from hashing import InvalidHashError, import_known_set
from hashing.signals import SIGNAL_TYPES, BytesHasher, ImageHasher, SignalType
from hashing.signals.base import CONTENT_TYPES

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
        with_variants = signal.hash_with_variants(picture)
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

"""The evidence store: content-addressed, sealed with AES-256-GCM, refusing tampering."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from evidence import EvidenceNotFound, EvidenceTampered, LocalEvidenceStore, load_data_key, new_data_key, write_data_key

DATA = b"\xff\xd8\xff synthetic evidence bytes " * 40


@pytest.fixture
def store(tmp_path: Path) -> LocalEvidenceStore:
    return LocalEvidenceStore(tmp_path / "evidence", new_data_key())


def test_put_get_round_trip_and_idempotence(store: LocalEvidenceStore) -> None:
    sha256 = store.put(DATA)
    assert sha256 == hashlib.sha256(DATA).hexdigest()
    path = store.path_for(sha256)
    first = path.read_bytes()
    assert store.put(DATA) == sha256 and path.read_bytes() == first  # no rewrite
    assert store.get(sha256) == DATA and store.exists(sha256)
    assert [p for p in path.parent.iterdir()] == [path]  # no temp files left
    assert store.add(DATA) == (sha256, False)  # already there: not new
    other = DATA + b"!"
    assert store.add(other) == (hashlib.sha256(other).hexdigest(), True)


def test_plaintext_never_reaches_the_disk(store: LocalEvidenceStore) -> None:
    store.put(DATA)
    for file in store.root.rglob("*"):
        if file.is_file():
            blob = file.read_bytes()
            assert DATA[:32] not in blob and b"synthetic evidence" not in blob


@pytest.mark.parametrize("offset", [0, 5, 20, -1])
def test_a_changed_byte_is_refused(store: LocalEvidenceStore, offset: int) -> None:
    sha256 = store.put(DATA)
    path = store.path_for(sha256)
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(EvidenceTampered):
        store.get(sha256)


def test_an_object_moved_under_another_name_is_refused(store: LocalEvidenceStore) -> None:
    a, b = store.put(DATA), store.put(DATA + b"other")
    store.path_for(b).write_bytes(store.path_for(a).read_bytes())
    with pytest.raises(EvidenceTampered):
        store.get(b)


def test_wrong_key_missing_object_and_bad_ids(tmp_path: Path, store: LocalEvidenceStore) -> None:
    sha256 = store.put(DATA)
    with pytest.raises(EvidenceTampered):
        LocalEvidenceStore(store.root, new_data_key()).get(sha256)
    with pytest.raises(EvidenceNotFound):
        store.get("0" * 64)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get("../../etc/passwd")
    assert store.delete(sha256) and not store.exists(sha256) and not store.delete(sha256)


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "data.key"
    key = new_data_key()
    write_data_key(key_file, key)
    assert load_data_key(key_file) == key and os.stat(key_file).st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_data_key(key_file, new_data_key())
    shown = repr(LocalEvidenceStore(tmp_path, key))
    assert key.hex() not in shown and str(key) not in shown

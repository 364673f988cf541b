"""The persisted PDQ index of one known set, updated incrementally when the set changes.

A set's index lives in its own folder (``<known>/index/<set>/``): a ``manifest.json``
naming the set content it reflects and its segments, each segment a saved ``MihIndex``
of distinct PDQ hashes plus, once rows have left the set, a mask of the entries still
live. Opening an index whose manifest matches the set costs milliseconds (the arrays are
memory-mapped). When the set's content changed, only the difference is applied: hashes
that left are masked out, new hashes become a new segment; once the changes outweigh a
quarter of the index it is rebuilt as one segment. Writers take a file lock; the
manifest is replaced atomically, so a reader sees the old or the new index, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hashing.errors import KnownSetError
from hashing.signals.base import hex_column_bytes
from hashing.signals.index import IndexHit, SignalIndex, folder_lock
from hashing.signals.pdq.mih import MihIndex
from hashing.signals.pdq.packing import pdq_to_packed

_FORMAT = "hotline-pdq-set-index/1"
_COMPACT_SHARE = 0.25
_OWN_PREFIXES = ("segment-", "live-")


@dataclass
class _Segment:
    name: str
    index: MihIndex
    live: np.ndarray | None  # bool [N]; None: every entry live
    live_file: str | None


class SetIndex(SignalIndex):
    """Near-duplicate PDQ search over the distinct PDQ hashes of one known set."""

    def __init__(self, folder: Path, content_sha256: str, segments: list[_Segment]) -> None:
        self.folder = folder
        self.content_sha256 = content_sha256
        self._segments = segments

    def __len__(self) -> int:
        return sum(
            len(s.index) if s.live is None else int(s.live.sum()) for s in self._segments
        )

    @property
    def segments(self) -> int:
        return len(self._segments)

    @classmethod
    def open(cls, folder: Path, parquet: Path, content_sha256: str, column: str = "pdq") -> SetIndex:
        """The index of the PDQ ``column`` of the set file ``parquet`` (whose content digest
        is ``content_sha256``): loaded when up to date, else updated or built and saved."""
        current = _read_manifest(folder)
        if current is not None and current["content_sha256"] == content_sha256:
            try:
                return cls._load(folder, current)
            except (OSError, ValueError):  # compacted under us: look again under the lock
                pass
        with folder_lock(folder):
            current = _read_manifest(folder)
            if current is not None and current["content_sha256"] == content_sha256:
                return cls._load(folder, current)
            wanted = _distinct_pdq(parquet, column)
            if current is None:
                return cls._rebuild(folder, content_sha256, wanted)
            return cls._load(folder, current)._update(content_sha256, wanted)

    def search(self, queries: list[str], radius: int) -> list[IndexHit]:
        """Every live entry within ``radius`` bits of each query, by query, then distance,
        then hash."""
        packed = pdq_to_packed(queries)
        found: list[IndexHit] = []
        for segment in self._segments:
            hits = segment.index.search(packed, radius)
            if segment.live is not None and len(hits):
                keep = segment.live[hits.entry]
                hits_query, hits_entry = hits.query[keep], hits.entry[keep]
                hits_distance = hits.distance[keep]
            else:
                hits_query, hits_entry, hits_distance = hits.query, hits.entry, hits.distance
            rows = segment.index.words[hits_entry]
            found += [
                IndexHit(int(q), row.tobytes().hex(), int(d))
                for q, row, d in zip(hits_query, rows, hits_distance, strict=True)
            ]
        found.sort(key=lambda m: (m.query, m.distance, m.value))
        return found

    # --- building and updating --------------------------------------------------------

    @classmethod
    def _load(cls, folder: Path, manifest: dict) -> SetIndex:
        segments = []
        for entry in manifest["segments"]:
            live_file = entry.get("live")
            segments.append(
                _Segment(
                    entry["name"],
                    MihIndex.load(folder / entry["name"]),
                    np.load(folder / live_file) if live_file else None,
                    live_file,
                )
            )
        return cls(folder, manifest["content_sha256"], segments)

    @classmethod
    def _rebuild(cls, folder: Path, content_sha256: str, wanted: np.ndarray) -> SetIndex:
        segment = _new_segment(folder, wanted)
        index = cls(folder, content_sha256, [segment])
        index._commit()
        return index

    def _update(self, content_sha256: str, wanted: np.ndarray) -> SetIndex:
        wanted_keys = _as_keys(wanted)
        segments, live_keys = [], []
        drift = 0  # entries a clean single-segment index would not have to carry
        for position, segment in enumerate(self._segments):
            keys = _as_keys(np.asarray(segment.index.words).view(np.uint8))
            live = np.isin(keys, wanted_keys)
            if segment.live is not None:
                live &= segment.live
            drift += int((~live).sum()) + (int(live.sum()) if position else 0)
            live_keys.append(keys[live])
            if segment.live is not None and np.array_equal(live, segment.live):
                segments.append(segment)
            elif segment.live is None and live.all():
                segments.append(segment)
            else:
                live_file = f"live-{uuid.uuid4().hex[:12]}.npy"
                np.save(self.folder / live_file, live)
                segments.append(_Segment(segment.name, segment.index, live, live_file))
        added = wanted[~np.isin(wanted_keys, np.concatenate(live_keys))]
        if drift + len(added) > _COMPACT_SHARE * max(len(wanted), 1):
            return SetIndex._rebuild(self.folder, content_sha256, wanted)
        if len(added):
            segments.append(_new_segment(self.folder, added))
        index = SetIndex(self.folder, content_sha256, segments)
        index._commit()
        return index

    def _commit(self) -> None:
        manifest = {
            "format": _FORMAT,
            "content_sha256": self.content_sha256,
            "segments": [
                {"name": s.name, "entries": len(s.index), "live": s.live_file}
                for s in self._segments
            ],
        }
        tmp = self.folder / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, sort_keys=True))
        os.replace(tmp, self.folder / "manifest.json")
        keep = {s.name for s in self._segments} | {s.live_file for s in self._segments if s.live_file}
        for path in self.folder.iterdir():  # only its own: the folder holds the set's other indexes too
            if path.name.startswith(_OWN_PREFIXES) and path.name not in keep:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def _new_segment(folder: Path, packed: np.ndarray) -> _Segment:
    name = f"segment-{uuid.uuid4().hex[:12]}"
    MihIndex.write(packed, folder / name)
    return _Segment(name, MihIndex.load(folder / name), None, None)


def _distinct_pdq(parquet: Path, column: str) -> np.ndarray:
    """The set's distinct PDQs, packed and in the order of their hex form (packed bytes sort
    as the hex does); read in batches into one array sorted in place, so a large set needs
    memory for about twice its packed hashes."""
    try:
        source = pq.ParquetFile(parquet)
        packed = np.empty((source.metadata.num_rows, 32), dtype=np.uint8)
        filled = 0
        for batch in source.iter_batches(batch_size=1 << 20, columns=[column]):
            part = hex_column_bytes(batch.column(0), 32)
            packed[filled : filled + len(part)] = part
            filled += len(part)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise KnownSetError(f"cannot read PDQ hashes from {str(parquet)!r}: {exc}") from exc
    pa.default_memory_pool().release_unused()  # the batches read, kept by Arrow's allocator
    keys = _as_keys(packed[:filled])
    keys.sort()
    distinct = np.ones(len(keys), dtype=bool)
    distinct[1:] = keys[1:] != keys[:-1]
    if distinct.all():  # the usual case: no copy of a set's worth of hashes
        return packed[:filled]
    return keys[distinct].view(np.uint8).reshape(-1, 32)


def _as_keys(packed: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(packed).view("S32").reshape(-1)


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == _FORMAT else None

"""A known set as the matcher takes it: its normalised file, what a match in it means,
and its indexes (``<known>/index/<set>/``): the exact digest index and one near-match
index per signal type that has one."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.decisions.records import Verdict
from hashing.errors import KnownSetError
from hashing.knownsets.digest_index import open_digest_index
from hashing.knownsets.importer import stored_content_sha256
from hashing.knownsets.set_schema import META_COLUMNS, hash_columns
from hashing.signals import PDQ_MATCH_THRESHOLD, PdqSignal, SignalIndex, SignalType, known_set_signal_types


@dataclass(frozen=True)
class KnownSet:
    """A normalised set file (see ``import_known_set``) and what a match in it means.

    ``category_verdicts`` maps the set's own categories to verdicts, or to ``None``:
    review. A category it does not map never produces a verdict: the match only goes to
    review as a hint. ``verdict`` applies to the rows of a set whose rows carry no
    category (``categorized`` False); in a categorised set a row without a category goes
    to review too. ``categorized`` None (a set registered before the catalog recorded
    it) counts a set with a category mapping as categorised. A ``benign`` set lists known
    harmless material (logos, emoji, site furniture): its matches keep items out of
    review as not illegal. ``category_profile`` names the profile the categories follow;
    ``held`` rows (quarantined, contested) match nothing.
    ``index_dir`` holds the set's persisted indexes (default: ``index/<name>`` beside
    the set file); ``content_sha256`` identifies the content they must reflect (default:
    read from the file's metadata). ``pdq_threshold`` is how far a PDQ may be from the
    set's and still match (the catalog keeps one per set).
    """

    name: str
    path: Path
    verdict: Verdict | None
    pdq_threshold: int = PDQ_MATCH_THRESHOLD
    category_verdicts: Mapping[str, Verdict | None] = field(default_factory=dict)
    benign: bool = False
    content_sha256: str | None = None
    index_dir: Path | None = None
    categorized: bool | None = None
    category_profile: str | None = None
    held: frozenset[str] = frozenset()  # row keys held out of matching (see ``row_key``)

    def __post_init__(self) -> None:
        if not 0 <= self.pdq_threshold <= 256:
            raise KnownSetError(
                f"known set {self.name!r}: pdq_threshold must be 0..256, "
                f"got {self.pdq_threshold!r}"
            )

    def verdict_for(self, category: str | None) -> Verdict | None:
        """The verdict a match on a row of ``category`` gives; ``None``: review."""
        if self.benign:
            return Verdict.NOT_ILLEGAL
        if category is None:
            categorized = bool(self.category_verdicts) if self.categorized is None else self.categorized
            return None if categorized else self.verdict
        return self.category_verdicts.get(category)

    def threshold(self, signal: type[SignalType]) -> int:
        """How far a hash of ``signal`` may be from one of the set's and still match: the
        set's ``pdq_threshold`` for PDQ, the signal type's ``match_threshold`` for others."""
        return self.pdq_threshold if signal is PdqSignal else signal.match_threshold

    @property
    def index_folder(self) -> Path:
        return self.index_dir or Path(self.path).parent / "index" / self.name


def open_set_index(known: KnownSet) -> dict[str, SignalIndex]:
    """Bring the set's persisted indexes up to date and return the near-match ones by
    signal type: each opened when current, else updated (PDQ's incrementally from the
    previous version's index) or built, and saved. The exact digest index is built too
    when this content has none, so an import pays for them and the first match does not."""
    content, path = set_content(known), Path(known.path)
    indexes = {
        s.name: s.index_cls.open(known.index_folder, path, content, s.name)
        for s in known_set_signal_types()
        if s.index_cls is not None
    }
    open_digest_index(known.index_folder, path, content)
    return indexes


def delete_set_index(folder: Path) -> None:
    """Remove a set's indexes (the set was deleted)."""
    shutil.rmtree(folder, ignore_errors=True)


def set_content(known: KnownSet) -> str:
    """The set's content digest, after checking its file is a normalised set."""
    try:
        names = pq.read_schema(known.path).names
        missing = [c for c in META_COLUMNS if c not in names]
        if not any(c in names for c in hash_columns()):
            missing.append("a hash column")
        if missing:
            raise KnownSetError(
                f"known set {known.name!r}: {str(known.path)!r} is not a normalised "
                f"set (missing {', '.join(missing)}); import it with import_known_set"
            )
        return known.content_sha256 or stored_content_sha256(known.path)
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(
            f"known set {known.name!r}: cannot read {str(known.path)!r}: {exc}"
        ) from exc

"""Files hashed and matched by hand (``hotline hash``, ``hotline match``): each file's hashes
or matches, or why it could not be hashed; one bad file does not stop the others."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hashing import HashingError, Matcher, MediaConfig, hash_media, known_sets_of
from hashing.knownsets.categories import outcome_text
from hashing.media import summarise
from hotline.installation import Installation


def hashes_of_files(files: Sequence[Path], config: MediaConfig) -> list[dict[str, Any]]:
    """Per file its path, kind and hashes (video frames' PDQ too), or its ``error``."""
    results: list[dict[str, Any]] = []
    for file in files:
        try:
            results.append({"path": str(file), **summarise(hash_media(file.read_bytes(), config, claimed=file.name)),
                            "error": None})
        except (HashingError, OSError) as exc:
            results.append({"path": str(file), "kind": None, "error": str(exc) or type(exc).__name__})
    return results


def matches_of_files(inst: Installation, files: Sequence[Path]) -> list[dict[str, Any]]:
    """Per file its SHA-256 and its matches in the enabled known sets (set, match type,
    distance, verdict, row, category, and what explains a near match: the variant of the
    file's hash that matched, its quality and the known hash), or its ``error``."""
    config, s = inst.media_config(), inst.settings
    matcher = Matcher(known_sets_of(inst.catalog), min_quality=s.pdq_min_quality, vpdq_threshold=s.vpdq_threshold)
    results: list[dict[str, Any]] = []
    for file in files:
        try:
            hashes = hash_media(file.read_bytes(), config, claimed=file.name)
        except (HashingError, OSError) as exc:
            results.append({"path": str(file), "sha256": None, "matches": [], "error": str(exc) or type(exc).__name__})
            continue
        found = [{"set": m.set_name, "match_type": m.match_type, "distance": m.distance,
                  "verdict": outcome_text(m.verdict), "known_id": m.known_id, "category": m.category,
                  "variant": m.variant, "quality": m.quality, "known_hash": m.known_hash}
                 for m in matcher.match([hashes])]
        results.append({"path": str(file), "sha256": hashes.sha256, "matches": found, "error": None})
    return results

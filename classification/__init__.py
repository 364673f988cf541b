"""Classification: what an item is, and who decided it.

One job: turn matches and analysts' gradings into verdicts. Items found in a known-hash set
take that set's verdict and never reach an analyst, as do copies of pictures we decided
(``own``) and items a partner hotline decided, whose verdict our profiles derive from the
partner's grading (``partner``); the rest wait in the review queue,
grouped into clusters of near-duplicates, until an analyst grades them once by attributes
(``attributes``). Verdicts are derived from the grading (``derive``): INTERPOL's baseline and
one per jurisdiction, by law profiles that are TOML data files (``profiles``). Leases,
splits, the four-eyes rule and recomputation are in ``review``. Errors: ``errors``.

May import: catalog, NumPy. Imported by flows, the review app and the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from classification.attributes import AgeGroup, Depiction, Gender, grading, grading_from_form
    from classification.clusters import ClusteringConfig, cluster_queue
    from classification.derive import decide, main_verdict
    from classification.profiles import LawProfile, ProfileSet, available_profiles, load_profile, load_profile_set
    from classification.queue import FloodConfig, TriageResult, triage
    from classification.review import ReviewConfig, claim_next, confirm, decide_cluster, decide_item, recompute
    from classification.verdicts import classify, parse_verdict

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "attributes": ["AgeGroup", "Depiction", "Gender", "grading", "grading_from_form"],
    "clusters": ["ClusteringConfig", "cluster_queue"],
    "derive": ["decide", "main_verdict"],
    "profiles": ["LawProfile", "ProfileSet", "available_profiles", "load_profile", "load_profile_set"],
    "queue": ["FloodConfig", "TriageResult", "triage"],
    "review": ["ReviewConfig", "claim_next", "confirm", "decide_cluster", "decide_item", "recompute"],
    "verdicts": ["classify", "parse_verdict"],
})[0]


__all__ = [
    "AgeGroup",
    "ClusteringConfig",
    "Depiction",
    "FloodConfig",
    "Gender",
    "LawProfile",
    "ProfileSet",
    "ReviewConfig",
    "TriageResult",
    "available_profiles",
    "claim_next",
    "classify",
    "cluster_queue",
    "confirm",
    "decide",
    "decide_cluster",
    "decide_item",
    "grading",
    "grading_from_form",
    "load_profile",
    "load_profile_set",
    "main_verdict",
    "parse_verdict",
    "recompute",
    "triage",
]

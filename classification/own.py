"""Never show twice: a new item that matches a picture this hotline decided takes that
decision, when the match and the decision leave no doubt.

The matches come from hashing (``hashing.decided``: PDQ and its variants within the
threshold, quality rules as for a known set). An item takes its source's grading, and the
law profiles derive its verdicts as for any grading (``derive.decide``); the verdict's
source is ``own-match`` and it records the source, the match type, variant, distance and
quality. It goes to review instead (audited as ``verdict.ambiguous``, every match shown)
when its matches are to decided items graded differently, or when the profiles no longer
derive the source's verdict from its grading (a recomputation pending). The catalog writes
a taken decision only while the source's is still the current, final one, and sends a
follower back to review when its source is decided again (``release_followers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.catalog import Catalog
from catalog.decisions.own_matches import Adoption
from catalog.decisions.records import OwnMatch
from classification.derive import decide
from classification.profiles import ProfileSet


@dataclass(frozen=True)
class Adopted:
    decided: int  # items that took a decision of ours: analyst views spared
    ambiguous: int  # items near decided items that went to review instead


def adopt_decisions(catalog: Catalog, found: Sequence[OwnMatch], profiles: ProfileSet, *,
                    actor: str = "matcher") -> Adopted:
    """Give each matched item its decided source's decision, or leave it for review with
    the reason audited; returns the counts."""
    by_item: dict[str, list[OwnMatch]] = {}
    for m in found:
        by_item.setdefault(m.sha256, []).append(m)
    adoptions: list[Adoption] = []
    unadopted: list[tuple[str, list[OwnMatch], str]] = []
    for sha256, matches in by_item.items():
        matches.sort(key=lambda m: (m.distance, m.source.verdict_id))
        gradings = {m.source.grading for m in matches}
        if len(gradings) > 1:
            unadopted.append((sha256, matches, "matches decided items graded differently"))
            continue
        decision = decide(sha256, matches[0].source.grading, profiles)
        if any(decision.verdict != m.source.verdict for m in matches):
            unadopted.append((sha256, matches, f"the law profiles now derive {decision.verdict.value!r} from the "
                                               "grading, not the decided item's verdict (recompute pending)"))
            continue
        adoptions.append(Adoption(decision, matches[0], tuple(matches)))
    decided = catalog.record_own_verdicts(adoptions, actor=actor)
    for sha256, matches, why in unadopted:
        catalog.note_unadopted(sha256, matches, why, actor=actor)
    return Adopted(decided=len(decided), ambiguous=len(unadopted))

"""Verdicts are derived, not typed: a grading and the law profiles give INTERPOL's baseline,
one verdict per jurisdiction, and the item's main verdict.

The main verdict (the one the export ledger uses) is *baseline* when INTERPOL's baseline
profile says illegal, else *national* when the home country's profile says illegal, else
*not illegal*; it is *undetermined* (a senior decides) when INTERPOL's or the home
country's verdict hangs on an age group or depiction the analyst marked unclear. An analyst
may set it by hand instead, with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.decisions.records import Decision, GradingRecord, JurisdictionVerdict, Verdict
from classification.errors import InvalidGrading
from classification.profiles import BASELINE, ProfileSet


def main_verdict(found: Sequence[JurisdictionVerdict], home: str) -> Verdict:
    """The item's main verdict from its jurisdiction verdicts. An undetermined baseline makes
    the whole outcome undetermined even when the home country's law says illegal: baseline
    or national decides what INTERPOL receives."""
    by = {j.jurisdiction: j for j in found}
    for code, illegal in ((BASELINE, Verdict.BASELINE), (home, Verdict.NATIONAL)):
        j = by.get(code)
        if j is not None and j.illegal:
            return illegal
        if j is not None and j.undetermined:
            return Verdict.UNDETERMINED
    return Verdict.NOT_ILLEGAL


def decide(
    sha256: str,
    grading: GradingRecord,
    profiles: ProfileSet,
    *,
    verdict: Verdict | None = None,
    reason: str | None = None,
    four_eyes: bool = False,
) -> Decision:
    """The decision for one item. ``verdict`` sets the main verdict by hand: it needs a
    ``reason`` when it differs from the derived one. Under ``four_eyes`` an exportable verdict
    waits for a second analyst before it can be exported."""
    found = profiles.evaluate(grading)
    derived = main_verdict(found, profiles.home.jurisdiction)
    chosen = derived if verdict is None else verdict
    overridden = chosen != derived
    if chosen is Verdict.UNDETERMINED and verdict is not None:
        raise InvalidGrading("undetermined is not a verdict to set by hand: grade the age group or depiction "
                             "unclear instead, and a senior decides")
    if overridden and not (reason and reason.strip()):
        raise InvalidGrading(f"the grading gives {derived.value!r}; setting {chosen.value!r} by hand needs a reason")
    return Decision(
        sha256=sha256,
        grading=grading,
        verdict=chosen,
        jurisdictions=found,
        overridden=overridden,
        reason=(reason or "").strip() or None,
        confirm_required=four_eyes and chosen.exportable,
    )


def explain(grading: GradingRecord, profiles: ProfileSet) -> list[dict[str, object]]:
    """Per jurisdiction: the verdict and the rule that decided it (for the review page)."""
    return [
        {"jurisdiction": j.jurisdiction, "illegal": j.illegal, "undetermined": j.undetermined,
         "rule": j.rule or "no rule applies (profile default)", "profile": j.profile}
        for j in profiles.evaluate(grading)
    ]

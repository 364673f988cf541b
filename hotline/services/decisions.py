"""Decisions on items made outside the review app (``hotline classify``), and the law
profiles that turn gradings into verdicts under this installation's settings."""

from __future__ import annotations

from typing import Any

from catalog.decisions.records import GradingRecord, Verdict
from classification import available_profiles, classify, decide_item
from classification.profiles import baseline_warning
from hotline.installation import Installation, review_config
from hotline.settings import Settings


def decide(inst: Installation, media_id: str, analyst: str, *, verdict: Verdict | None = None,
           graded: GradingRecord | None = None, reason: str | None = None) -> dict[str, Any]:
    """Record ``analyst``'s decision on the item whose ID is or starts with ``media_id``: a
    grading (its verdicts derived by the law profiles; ``verdict`` sets one by hand), or a
    verdict alone. Returns the item, its verdict and, for a grading, whether it waits for a
    confirmation and each jurisdiction's verdict."""
    if graded is None:
        if verdict is None:
            raise ValueError("a decision needs a verdict or a grading")
        sha256 = classify(inst.catalog, media_id, verdict, analyst=analyst, reason=reason)
        return {"sha256": sha256, "verdict": verdict.value, "analyst": analyst}
    sha256 = inst.catalog.resolve_media_id(media_id)
    decide_item(inst.catalog, review_config(inst.settings), sha256, analyst, graded, verdict=verdict, reason=reason)
    history = inst.catalog.item_decisions(sha256)
    newest = history["verdicts"][-1]
    return {"sha256": sha256, "verdict": newest["verdict"], "analyst": analyst,
            "confirm_required": bool(newest["confirm_required"]),
            "jurisdictions": {j["jurisdiction"]: j["illegal"] for j in history["jurisdictions"]
                              if j["grading_id"] == newest["grading_id"]}}


def law_profiles(settings: Settings) -> list[dict[str, Any]]:
    """The law profiles available (shipped and the installation's): which ones apply, which is
    home, and a warning for a replaced baseline."""
    applied = {"INTERPOL", settings.country.upper(), *(c.upper() for c in settings.law_profiles)}
    found = available_profiles([settings.law_profiles_dir], allow_baseline_override=settings.allow_interpol_profile)
    return [{"jurisdiction": p.jurisdiction, "name": p.name, "rules": len(p.rules), "applied": p.jurisdiction in applied,
             "home": p.jurisdiction == settings.country.upper(), "path": p.path, "sha256": p.sha256,
             "warning": baseline_warning(p)}
            for p in found.values()]

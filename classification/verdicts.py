"""Recording verdicts: the words analysts type, and the one function that records them."""

from __future__ import annotations

from catalog.catalog import Catalog
from catalog.decisions.records import SeenState, Verdict
from classification.clusters import cluster_queue
from classification.review import amending, current_state, reviewer

_ALIASES: dict[str, Verdict] = {
    "baseline": Verdict.BASELINE,
    "interpol-baseline": Verdict.BASELINE,
    "national": Verdict.NATIONAL,
    "nationally-illegal": Verdict.NATIONAL,
    "not-illegal": Verdict.NOT_ILLEGAL,
    "legal": Verdict.NOT_ILLEGAL,
}


def parse_verdict(text: str) -> Verdict:
    """``"baseline"``, ``"national"`` or ``"not-illegal"`` (also ``nationally-illegal``,
    ``interpol-baseline``, ``legal``; case and ``_`` vs ``-`` do not matter)."""
    key = text.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return _ALIASES[key]
    except KeyError:
        choices = ", ".join(v.value for v in Verdict)
        raise ValueError(f"unknown verdict {text!r}; choose one of {choices}") from None


def classify(
    catalog: Catalog, media_id: str, verdict: Verdict, *, analyst: str, reason: str | None = None,
    expected: SeenState | None = None,
) -> str:
    """Record ``analyst``'s verdict, without a grading, on the item whose ID is or starts with
    ``media_id``. ``analyst`` is an active analyst or senior (the command line passes the
    logged-in user). The review rules apply as to any decision: replacing another outcome
    is an override with a reason, an exported or confirmed verdict is a senior's to change,
    and under four-eyes the verdict waits for a confirmation.

    Someone else's decision, confirmation or export of the item between this call's look at
    it (or ``expected``, what the analyst saw) and its write refuses it (``DecidedMeanwhile``),
    as does a change of the review rules (``RulesChanged``).

    Returns the item's full SHA-256. The verdict and the analyst are written to the audit
    log in the same transaction."""
    user = reviewer(catalog, analyst)
    sha256 = catalog.resolve_media_id(media_id)
    state, rules = current_state(catalog, sha256, expected), catalog.review_rules()
    confirm_required, amends = amending(state, user, verdict, reason, rules.four_eyes)
    seen = expected or state.seen
    if amends:
        catalog.override_verdict(sha256, verdict, actor=user.name, reason=reason or "",
                                 confirm_required=confirm_required, expected=seen, rules=rules)
    else:
        catalog.record_verdict(sha256, verdict, actor=user.name, reason=reason, confirm_required=confirm_required,
                               expected=seen, rules=rules)
    if state.verdict_id is not None:  # items that took its earlier decision went back to review
        cluster_queue(catalog)
    else:
        catalog.refresh_open_clusters()  # the item leaves its cluster in the review queue
    return sha256

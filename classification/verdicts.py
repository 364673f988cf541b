"""Recording verdicts: the words analysts type, and the one function that records them."""

from __future__ import annotations

from catalog import Catalog, Verdict

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
    catalog: Catalog, media_id: str, verdict: Verdict, *, analyst: str, reason: str | None = None
) -> str:
    """Record ``analyst``'s verdict on the item whose ID is or starts with ``media_id``.

    Returns the item's full SHA-256. The verdict and the analyst are written to the audit
    log in the same transaction."""
    if not analyst.strip():
        raise ValueError("a verdict needs the analyst's name")
    sha256 = catalog.resolve_media_id(media_id)
    catalog.record_verdict(sha256, verdict, actor=analyst.strip(), reason=reason)
    catalog.refresh_open_clusters()  # the item leaves its cluster in the review queue
    return sha256

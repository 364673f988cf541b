"""The figures as titled tables of plain strings, for ``hotline stats`` to print (rich)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stats.figures import Figures
from stats.views import TITLES

# the views printed, and the columns shown of each (the rest: --json, the report, the snapshot)
SHOWN: dict[str, tuple[str, ...]] = {
    "report_outcomes": ("outcome", "reports", "share_of_reports"),
    "items_by_verdict": ("verdict", "verdict_source", "items", "share_of_items"),
    "time_to": ("stage", "counted", "eligible", "reached", "median_hours", "p90_hours", "share_within_3_days"),
    "hosting_countries": ("country", "illegal_items", "illegal_content_urls", "share_of_illegal_items"),
    "site_types": ("site_type", "illegal_items", "illegal_content_urls", "share_of_illegal_items"),
    "duplicates": ("what", "duplicate_of", "duplicates", "total", "share"),
    "known_set_matches": ("set_name", "set_source", "items_matched", "items_auto_classified", "share_of_items"),
    "by_hotline": ("hotline", "reports", "reports_illegal", "share_reports_illegal", "items_first_seen"),
}
TOP = 10  # rows per table


def _text(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{100 * value:.1f} %" if name.startswith("share") else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _by_period(f: Figures, grain: str, last: int) -> list[list[str]]:
    """Per period: reports, illegal reports, reports from partners, new and known items."""
    periods: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PERIOD_COLUMNS[1:], 0))
    for r in f.views["reports_by_period"]:
        if r["grain"] == grain:
            p = periods[r["period"]]
            p["reports"] += r["reports"]
            p["reports_illegal"] += r["reports"] if r["outcome"] == "illegal" else 0
            p["from_partners"] += r["reports"] if r["hotline"] != "own" else 0
    for r in f.views["items_by_period"]:
        if r["grain"] == grain:
            periods[r["period"]]["items_known" if r["known"] else "items_new"] += r["items"]
    return [[str(period), *(_text(c, n) for c, n in counts.items())]
            for period, counts in sorted(periods.items())[-last:]]


PERIOD_COLUMNS = ["period", "reports", "reports_illegal", "from_partners", "items_new", "items_known"]


def console_tables(f: Figures, grain: str = "month", last: int = 12) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows) of the overview, the main breakdowns and the last ``last``
    periods (``grain``: week or month)."""
    out = [(f"hotline statistics, jurisdiction {f.jurisdiction} (as of {f.as_of:%Y-%m-%d %H:%M} UTC)",
            ["figure", "value"], [[k, _text(k, v)] for k, v in f.overview.items() if k != "jurisdiction"])]
    for name, columns in SHOWN.items():
        rows = f.views[name]
        title = TITLES[name] + (f" (top {TOP} of {len(rows)})" if len(rows) > TOP else "")
        out.append((title, list(columns), [[_text(c, row[c]) for c in columns] for row in rows[:TOP]]))
    out.append((f"By {grain} (the last {last}; period = its first day)", PERIOD_COLUMNS, _by_period(f, grain, last)))
    return out

"""The HTML report: one self-contained page (inline CSS and SVG, no script, no link to
anything) that opens in a browser without a network: headline figures, three charts (time
to removal, hosting countries, new vs known items over time) and every figure view as a table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from stats.charts import horizontal_bars, stacked_columns
from stats.figures import Figures
from stats.network import NETWORK_TITLES
from stats.views import TITLES

MAX_ROWS = 200  # rows shown per table; the snapshot has them all
REPORT = "index.html"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; min-width: 10em; }
.card b { display: block; font-size: 1.4em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font-size: 12px; fill: #222; } svg .chart-title { font-size: 14px; font-weight: bold; }
svg .chart-note { font-size: 12px; fill: #555; } svg .grid { stroke: #e4e4e4; }
.note { color: #555; font-size: .9em; }
"""


def _cell(value: Any) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float):
        return f"{value:,.3f}", True
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, datetime | date):
        return value.isoformat(), False
    if isinstance(value, list):
        return ", ".join(map(str, value)), False
    return str(value), False


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="note">No rows.</p>'
    if len(rows) == 1:  # one row (the overview): one line per column
        rows = [{"figure": name, "value": value} for name, value in rows[0].items()]
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = []
    for row in rows[:MAX_ROWS]:
        cells = []
        for value in row.values():
            text, numeric = _cell(value)
            cells.append(f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="note">First {MAX_ROWS} of {len(rows):,} rows; the snapshot holds them all.</p>'
            if len(rows) > MAX_ROWS else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _cards(f: Figures) -> str:
    o = f.overview
    removal = next((r for r in f.views["time_to"] if r["stage"] == "removal"), {})
    median = removal.get("median_hours")
    cards = [
        ("reports received", f"{o['reports_received']:,}"),
        ("reports with illegal content", f"{o['reports_illegal']:,} ({_share(o['share_reports_illegal'])} of assessed)"),
        ("unique items", f"{o['items']:,}"),
        ("items already known", f"{o['items_known']:,} ({_share(o['share_items_known'])})"),
        ("analyst views spared", f"{o['items_auto_classified']:,}"),
        ("removed within 3 days of the notice", _share(o["share_removed_within_3_days"])),
        ("removed within 3 working days", _share(o["share_removed_within_3_working_days"])),
        ("median time to removal", "–" if median is None else f"{median / 24:.1f} days"),
        ("content changed (not counted as removed)", f"{o['takedowns_changed']:,}"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card">{escape(label)}<b>{escape(value)}</b></div>' for label, value in cards) + "</div>"


def _charts(f: Figures) -> str:
    removal = f.views["removal_days"]
    within = {"up to 1 day", "1 to 2 days", "2 to 3 days"}
    share = f.overview["share_removed_within_3_days"]
    charts = [horizontal_bars(
        [(r["bucket"], r["content_urls"]) for r in removal], title="Time to removal of illegal content URLs",
        highlight=sorted(within),
        note=f"Removed within 3 days of the notice: {_share(share)} (of URLs whose 3 days are over)")]
    countries = f.views["hosting_countries"][:15]
    charts.append(horizontal_bars([(r["country"], r["illegal_items"]) for r in countries],
                                  title="Hosting countries of illegal items (top 15)"))
    periods: dict[date, dict[bool, int]] = defaultdict(lambda: {True: 0, False: 0})
    for r in f.views["items_by_period"]:
        if r["grain"] == "month":
            periods[r["period"]][bool(r["known"])] += r["items"]
    labels = _months(min(periods), max(periods)) if periods else []
    charts.append(stacked_columns(
        [p.strftime("%Y-%m") for p in labels],
        {"new": [periods.get(p, {}).get(False, 0) for p in labels],
         "already known": [periods.get(p, {}).get(True, 0) for p in labels]},
        title="New and already known items by month first seen"))
    return "".join(f"<figure>{svg}</figure>" for svg in charts)


def _months(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last``, so that months without items show as gaps."""
    months, month = [], first
    while month <= last:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def render_report(f: Figures) -> str:
    """The report as one HTML document."""
    source = f"snapshot {f.version}" if f.version else "computed live from the catalog"
    sections = "".join(f"<h2>{escape(title)} <small>({escape(name)})</small></h2>{_table(f.views[name])}"
                       for name, title in {**NETWORK_TITLES, **TITLES}.items() if name in f.views)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>hotline statistics {escape(f.jurisdiction)}</title><style>{_CSS}</style></head><body>"
        f"<h1>hotline statistics: jurisdiction {escape(f.jurisdiction)}</h1>"
        f'<p class="note">State of the catalog at {escape(f.as_of.isoformat(timespec="seconds"))} UTC, '
        f"{escape(source)}. Definitions: docs/statistics.md.</p>"
        f"{_cards(f)}<h2>Charts</h2>{_charts(f)}{sections}</body></html>\n"
    )


def write_report(f: Figures, out: Path) -> Path:
    """Write the report into the folder ``out`` (created if needed); returns the file."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT
    path.write_text(render_report(f), encoding="utf-8")
    return path

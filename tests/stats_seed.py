"""A seeded catalog for the statistics tests: a few hundred reports with crawls, items,
sightings, known-set matches, verdicts (one re-classified, some under four-eyes, confirmed
or not), exports with the locations they carried, and re-checks, all with
chosen timestamps, written straight into the tables. Every row is also returned, so the
tests compute the expected figures from the rows with plain Python, independently of the
SQL under test. Only benign, made-up values: no media exist behind these SHA-256s."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.catalog import Catalog
from catalog.db import utcnow
from catalog.schema import (
    confirmations,
    crawls,
    export_items,
    export_locations,
    exports,
    hashes,
    jurisdiction_verdicts,
    known_sets,
    matches,
    media,
    pages,
    rechecks,
    reports,
    sightings,
    verdicts,
)

T0 = datetime(2026, 1, 5)  # a Monday
H = timedelta(hours=1)
REPORTS = 300
PARTNER = "partner-be"
REFERER = "mailto:reporter-secret@example.test"  # reporter details: must never reach a snapshot
ANALYST = "analyst-ann-secret"  # analysts' names: idem
REASON = "reason-text-secret"


def sha(n: int) -> str:
    return hashlib.sha256(f"stats-item-{n}".encode()).hexdigest()


def page_kind(i: int) -> str:
    return ("forum", "blog", "website")[(i % 250) % 3]


def report_url(i: int) -> str:
    m = i % 250
    return {"forum": f"http://site{m}.test/forum/thread-{m}", "blog": f"http://site{m}.test/blog/{m}",
            "website": f"http://site{m}.test/gallery/{m}"}[page_kind(i)]


def media_url(n: int, i: int) -> str:
    return (f"https://i.imgur.com/{n}.jpg", f"http://cdn{n % 7}.example.test/{n}.jpg",
            f"https://mega.nz/file/{n}", f"http://site{i % 250}.test/img/{n}.jpg")[n % 4]


def site_type(n: int, i: int) -> str:
    """The site type the heuristic must give a sighting of item n in report i (by construction)."""
    return {0: "image host", 2: "file host"}.get(n % 4, page_kind(i))


def mix(n: int) -> int:
    """0..4, varying with both the report and the item's place in it."""
    return (n + n // 5) % 5


COUNTRIES = ("NL", "US", "DE", "RU", None)  # None: the sighting has none; the page's (FR) applies


@dataclass
class Seeded:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)


def _status(i: int) -> str:
    if i % 10 == 7:
        return "failed"
    if i % 20 == 3:
        return "pending"
    return "done"


def _items(i: int) -> list[int]:
    """Items seen in report i: a report of a URL reported before (i >= 250) finds the same
    items again; every 25th report's page has none."""
    base = i if i < 250 else i - 250
    if base % 25 == 11:
        return []
    return [base * 5 + j for j in range(1 + (base // 3) % 3)]


def build_rows(now: datetime) -> Seeded:
    s = Seeded(rows={name: [] for name in ("reports", "crawls", "pages", "media", "sightings", "known_sets",
                                           "matches", "verdicts", "exports", "export_items", "rechecks",
                                           "hashes", "jurisdiction_verdicts", "confirmations",
                                           "export_locations")})
    R = s.rows
    first_seen: dict[int, datetime] = {}
    plan = [(i, T0 + 6 * i * H, _status(i), report_url(i), PARTNER if i % 5 == 4 else "public", _items(i))
            for i in range(REPORTS)]
    # two recent reports: one crawled with an illegal item still up, one not crawled yet
    plan.append((REPORTS, now - 2 * H, "done", "http://recent0.test/gallery/0", "public", [10_000]))
    plan.append((REPORTS + 1, now - 1 * H, "pending", "http://recent1.test/gallery/1", "public", []))
    s.recent = [REPORTS + 1, REPORTS + 2]
    for i, received, status, url, source, items in plan:
        rid = i + 1
        R["reports"].append(dict(id=rid, url=url, source=source, referer=REFERER, status=status,
                                 received_at=received, processed_at=None if status == "pending" else received + 5 * H,
                                 error="unreachable" if status == "failed" else None))
        if status == "pending":
            continue
        finished = received + (1 + i % 4) * H if i < REPORTS else received + H
        R["crawls"].append(dict(id=rid, report_id=rid, started_at=received + 0.5 * H, finished_at=finished,
                                status="failed" if status == "failed" else "ok", pages=1, media=len(items),
                                errors=0, stats={}))
        if status == "failed":
            continue
        R["pages"].append(dict(crawl_id=rid, report_id=rid, url=url, final_url=url, status=200, ip="192.0.2.7",
                               country="FR", content_type="text/html", size=100, fetched_at=finished))
        for n in items:
            first_seen.setdefault(n, finished)
            R["sightings"].append(dict(sha256=sha(n), report_id=rid, crawl_id=rid, media_url=media_url(n, i),
                                       page_url=url, ip="192.0.2.8", country=COUNTRIES[mix(n)], seen_at=finished))
    for n in sorted(first_seen):
        R["hashes"].append(dict(sha256=sha(n), algorithm="md5", value=hashlib.md5(sha(n).encode()).hexdigest()))
    R["known_sets"] += [
        dict(name="set-a", source="INTERPOL", verdict="baseline", path="a.parquet", rows=10,
             content_sha256="a" * 64, pdq_threshold=31, enabled=True, imported_at=T0 - 24 * H),
        dict(name="set-b", source=PARTNER, verdict="national", path="b.parquet", rows=10,
             content_sha256="b" * 64, pdq_threshold=31, enabled=True, imported_at=T0 - 24 * H),
    ]
    decisions: list[tuple[datetime, int, str, str, str | None]] = []  # (at, n, verdict, source, set)
    statuses: dict[int, str] = {}
    for n, seen in first_seen.items():
        kind = n % 6
        if n >= 10_000:
            decisions.append((seen + 0.5 * H, n, "baseline", "analyst", None))
            statuses[n] = "classified"
            continue
        if kind in (0, 3):
            sets = ["set-a", "set-b"] if n % 12 == 0 else (["set-a"] if kind == 0 else ["set-b"])
            for name in sets:
                R["matches"].append(dict(sha256=sha(n), set_name=name, match_type="md5" if name == "set-a" else "pdq",
                                         distance=0 if name == "set-a" else 8,
                                         verdict="baseline" if name == "set-a" else "national",
                                         known_id=f"k{n}", category="A1", matched_at=seen + H / 6))
            decisions.append((seen + H / 6, n, "baseline" if kind == 0 else "national", "known-set", sets[0]))
            statuses[n] = "known"
        elif kind == 5:
            statuses[n] = "error" if n % 30 == 5 else "queued"
        else:
            at = seen + (n % 5 + 1) * 12 * H
            verdict = {1: "baseline", 2: "not-illegal", 4: "national"}[kind]
            decisions.append((at, n, verdict, "analyst", None))
            if n % 24 == 2:  # re-classified a day later
                decisions.append((at + 24 * H, n, "national", "analyst", None))
            statuses[n] = "classified"
    current: dict[int, tuple[int, datetime, str]] = {}
    for vid, (at, n, verdict, source, set_name) in enumerate(sorted(decisions, key=lambda d: (d[0], d[1])), 1):
        four_eyes = source == "analyst" and n % 42 == 1  # baseline verdicts under four-eyes
        R["verdicts"].append(dict(id=vid, sha256=sha(n), verdict=verdict, source=source,
                                  actor="matcher" if source == "known-set" else ANALYST, set_name=set_name,
                                  reason=REASON, created_at=at, confirm_required=four_eyes))
        if four_eyes and n % 4 == 1:  # half of them confirmed by a second analyst
            R["confirmations"].append(dict(verdict_id=vid, sha256=sha(n), actor="second-analyst-secret",
                                           created_at=at + H))
        elif four_eyes:
            continue  # waiting for confirmation: not a decision yet (nothing exported, nothing re-checked)
        current[n] = (vid, at, verdict)
    # verdicts per jurisdiction, as gradings derive them: INTERPOL and DE follow from the
    # analyst's decision; a second decision on the same item overrides DE. The home
    # jurisdiction's rows (NL) say "not illegal" on purpose: the home jurisdiction's figures
    # must come from the main verdicts, which these rows must not change.
    graded: set[int] = set()
    for at, n, verdict, source, _set in sorted(decisions, key=lambda d: (d[0], d[1])):
        if source != "analyst":
            continue
        again = n in graded
        graded.add(n)
        for j, illegal in (("INTERPOL", verdict == "baseline"), ("DE", (n % 4 in (0, 1)) != again), ("NL", False)):
            R["jurisdiction_verdicts"].append(dict(
                id=len(R["jurisdiction_verdicts"]) + 1, sha256=sha(n), jurisdiction=j, illegal=illegal,
                grading_id=None, profile=j.lower(), profile_sha256="c" * 64, rule=REASON,
                source="override" if again and j == "DE" else "derived", actor=ANALYST, created_at=at))
    for n, seen in sorted(first_seen.items()):
        R["media"].append(dict(sha256=sha(n), kind="video" if n % 10 == 9 else "image", mime="image/jpeg",
                               size=1000 + n, status=statuses[n], error="corrupt" if statuses[n] == "error" else None,
                               first_seen_at=seen, hashed_at=seen))
    illegal = {n for n, (_, _, v) in current.items() if v in ("baseline", "national")}
    for n in sorted(illegal):
        vid, at, _ = current[n]
        if n % 2 == 0 and n < 10_000:
            eid = len(R["exports"]) + 1
            R["exports"].append(dict(id=eid, bundle_id=f"bundle{n}", destination="interpol", location="drop",
                                     recipients=[], items=1, sha256="0" * 64, size=1, created_at=at + 6 * H))
            R["export_items"].append(dict(export_id=eid, destination="interpol", sha256=sha(n), verdict_id=vid))
            for sight in R["sightings"]:
                if sight["sha256"] == sha(n) and sight["seen_at"] <= at + 6 * H:
                    R["export_locations"].append(dict(
                        export_id=eid, destination="interpol", sha256=sha(n),
                        location=hashlib.sha256(f"{sight['media_url']}\n{sight['page_url']}".encode()).hexdigest(),
                        media_url=sight["media_url"], page_url=sight["page_url"]))
    # "missing" is gone at one check only; "removed" is gone at enough consecutive ones
    patterns = {0: ["removed"], 1: ["still-up", "missing", "removed"], 2: ["still-up", "still-up", "changed"],
                3: ["still-up", "missing"], 4: ["missing", "still-up", "missing", "removed"]}
    received_of = {r["id"]: r["received_at"] for r in R["reports"]}
    for sight in R["sightings"]:
        n = _n_of[sight["sha256"]]
        if n not in illegal:
            continue
        received = received_of[sight["report_id"]]
        if n >= 10_000:
            outcomes, offsets = ["still-up"], [now - H / 6 - received]
        else:
            outcomes = patterns[mix(n)]
            offsets = [k * H for k in (24, 48, 96, 192)][: len(outcomes)]
        for outcome, offset in zip(outcomes, offsets, strict=True):
            R["rechecks"].append(dict(report_id=sight["report_id"], sha256=sight["sha256"], url=sight["media_url"],
                                      checked_at=received + offset, outcome=outcome,
                                      http_status=404 if outcome in ("missing", "removed") else 200, detail=REASON))
    return s


_n_of = {sha(n): n for n in range(5 * REPORTS + 5)} | {sha(10_000): 10_000}


def seed(catalog: Catalog, now: datetime | None = None) -> Seeded:
    """Write the seeded rows into ``catalog`` (one transaction); returns them."""
    s = build_rows(now or utcnow())
    order = ("reports", "crawls", "pages", "media", "sightings", "hashes", "known_sets", "matches", "verdicts",
             "confirmations", "jurisdiction_verdicts", "exports", "export_items", "export_locations", "rechecks")
    tables = {t.name: t for t in (reports, crawls, pages, media, sightings, hashes, known_sets, matches, verdicts,
                                  confirmations, jurisdiction_verdicts, exports, export_items, export_locations,
                                  rechecks)}
    with catalog.write() as conn:
        for name in order:
            if s.rows[name]:
                conn.execute(tables[name].insert(), s.rows[name])
        assert conn.scalar(sa.select(sa.func.count()).select_from(reports)) == REPORTS + 2
    return s

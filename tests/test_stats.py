"""The figures, checked against values computed by hand and by a plain-Python reading of the
seeded rows (tests/stats_seed.py): a second, independent implementation of every
definition in docs/statistics.md."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from stats_seed import PARTNER, T0, Seeded, seed, site_type

from catalog.catalog import Catalog
from stats import Figures, SnapshotOptions, compute_figures
from stats.sitetypes import site_type_sql

OWN = ("public", "demo")
ILLEGAL = ("baseline", "national")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, Figures]]:
    catalog = Catalog(f"sqlite:///{tmp_path_factory.mktemp('stats') / 'catalog.db'}")
    catalog.migrate()
    rows = seed(catalog)
    yield rows, compute_figures(catalog, SnapshotOptions(country="NL"))
    catalog.dispose()


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the two nearest ranks (docs/statistics.md)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


class Oracle:
    """The seeded rows read with plain Python, following docs/statistics.md word by word."""

    def __init__(self, s: Seeded, as_of: datetime, jurisdiction: str = "NL") -> None:
        R = s.rows
        self.as_of = as_of
        self.reports = {r["id"]: r for r in R["reports"]}
        self.hotline = {k: "own" if r["source"] in OWN else r["source"] for k, r in self.reports.items()}
        self.media = {m["sha256"]: m for m in R["media"]}
        self.current: dict[str, dict[str, Any]] = {}
        self.first: dict[str, dict[str, Any]] = {}
        confirmed = {c["verdict_id"] for c in R["confirmations"]}
        newest = {v["sha256"]: v for v in sorted(R["verdicts"], key=lambda v: v["id"])}
        # four-eyes: an item whose newest verdict waits for a second analyst is not decided yet
        waiting = {h for h, v in newest.items() if v["confirm_required"] and v["id"] not in confirmed}
        if jurisdiction == "NL":  # home: the main verdicts
            decisions = R["verdicts"]
        elif jurisdiction == "INTERPOL":  # the main verdicts' baseline
            decisions = [dict(v, verdict="illegal" if v["verdict"] == "baseline" else "not-illegal")
                         for v in R["verdicts"]]
        else:  # elsewhere: that jurisdiction's verdicts, from gradings
            decisions = [dict(v, verdict="illegal" if v["illegal"] else "not-illegal")
                         for v in R["jurisdiction_verdicts"] if v["jurisdiction"] == jurisdiction]
        for v in sorted(decisions, key=lambda v: v["id"]):
            self.current[v["sha256"]] = v
            self.first.setdefault(v["sha256"], v)
        for h in waiting:
            self.current.pop(h, None)
        self.waiting = waiting
        self.illegal = {h for h, v in self.current.items() if v["verdict"] in (*ILLEGAL, "illegal")}
        self.known = {m["sha256"] for m in R["matches"]}
        self.sightings = R["sightings"]
        self.seen: dict[tuple[int, str], datetime] = {}
        for x in self.sightings:
            key = (x["report_id"], x["sha256"])
            self.seen[key] = min(self.seen.get(key, x["seen_at"]), x["seen_at"])
        self.items_of: dict[int, set[str]] = defaultdict(set)
        for rid, h in self.seen:
            self.items_of[rid].add(h)
        self.crawled: dict[int, datetime] = {}
        for c in R["crawls"]:
            self.crawled[c["report_id"]] = min(self.crawled.get(c["report_id"], c["finished_at"]), c["finished_at"])
        self.exported: dict[str, datetime] = {}
        export_at = {e["id"]: e["created_at"] for e in R["exports"]}
        for e in R["export_items"]:
            at = export_at[e["export_id"]]
            self.exported[e["sha256"]] = min(self.exported.get(e["sha256"], at), at)
        self.rechecks = R["rechecks"]
        self.tracked: dict[tuple[int, str], tuple[datetime, datetime | None]] = {}  # takedowns(), by URL
        # the notice: the first bundle that carried the content URL
        self.noticed: dict[str, datetime] = {}
        for loc in R["export_locations"]:
            at = export_at[loc["export_id"]]
            self.noticed[loc["media_url"]] = min(self.noticed.get(loc["media_url"], at), at)
        self.page_country = {(p["report_id"], p["final_url"]): p["country"] for p in R["pages"]}

    def ok_items(self, rid: int) -> set[str]:
        return {h for h in self.items_of[rid] if self.media[h]["status"] != "error"}

    def outcome(self, rid: int) -> str:
        r = self.reports[rid]
        items = self.ok_items(rid)
        if r["status"] in ("pending", "processing"):
            return "pending"
        if r["status"] == "failed":
            return "unreachable"
        if not items:
            return "no-media"
        if items & self.illegal:  # illegal once any content is confirmed, even while others wait
            return "illegal"
        if any(h not in self.current for h in items):
            return "awaiting-review"
        return "not-illegal"

    def country(self, x: dict[str, Any]) -> str:
        return x["country"] or self.page_country.get((x["report_id"], x["page_url"])) or "unknown"

    def stage_hours(self) -> dict[str, list[tuple[datetime, float | None]]]:
        """Per stage: (received_at, hours or None) for each eligible report or content URL."""
        crawl, verdict, export = [], [], []
        for rid, r in self.reports.items():
            got = r["received_at"]
            crawl.append((got, hours(self.crawled[rid] - got) if rid in self.crawled else None))
            items = self.ok_items(rid)
            if items:
                # an illegal report is assessed with its first illegal item; any other once all are
                decided = {"illegal": (min, items & self.illegal), "not-illegal": (max, items)}
                pick, which = decided.get(self.outcome(rid), (max, set()))
                at = pick(max(self.first[h]["created_at"], self.seen[(rid, h)]) for h in which) if which else None
                verdict.append((got, hours(at - got) if at else None))
            bad = self.items_of[rid] & self.illegal
            if bad:
                times = [max(self.exported[h], self.seen[(rid, h)]) for h in bad if h in self.exported]
                export.append((got, hours(min(times) - got) if times else None))
        removal = [(notice, hours(max(removed - notice, timedelta(0))) if removed else None)
                   for notice, removed in self.takedowns()]
        return {"crawl": crawl, "verdict": verdict, "export": export, "removal": removal}

    def takedowns(self) -> list[tuple[datetime, datetime | None]]:
        """(notice, removal or None) per tracked content URL of a report of an illegal item.
        Removed: a check found it removed after the last that found it present (still up or
        changed); removed at the first absent check of that run. The notice: the first bundle
        that carried the URL, else the item's first verdict or its sighting, whichever is later."""
        out = []
        by_url: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        for c in self.rechecks:
            by_url[(c["report_id"], c["url"])].append(c)
        for (rid, url), checks in by_url.items():
            h = min(c["sha256"] for c in checks)
            if h not in self.illegal:
                continue
            checks.sort(key=lambda c: c["checked_at"])
            present = [c["checked_at"] for c in checks if c["outcome"] in ("still-up", "changed")]
            run = [c for c in checks if not present or c["checked_at"] > max(present)]
            removed = run[0]["checked_at"] if any(c["outcome"] == "removed" for c in run) else None
            notice = self.noticed.get(url) or max(self.first[h]["created_at"], self.seen[(rid, h)])
            out.append((notice, removed))
            self.tracked[(rid, url)] = (notice, removed)
        return out


@pytest.fixture(scope="module")
def oracle(seeded: tuple[Seeded, Figures]) -> Oracle:
    rows, figures = seeded
    return Oracle(rows, figures.as_of)


def test_headline_counts_by_hand(seeded: tuple[Seeded, Figures]) -> None:
    _, f = seeded
    o = f.overview
    # 300 reports every 6 hours from T0 plus 2 recent ones; every 5th from the partner
    assert (o["reports_received"], o["reports_from_partners"]) == (302, 60)
    assert o["reports_unreachable"] == 30  # i % 10 == 7
    assert o["reports_pending"] == 15 + 1  # i % 20 == 3, and the newest
    assert o["reports_processed"] == 302 - 16
    # reports 250..299 re-report the URLs of 0..49; those of 4, 9, ... came from the partner
    assert o["reports_url_reported_before"] == 50
    assert {(r["what"], r["duplicate_of"]): r["duplicates"] for r in f.views["duplicates"]
            if r["what"] == "reported URL"} == {("reported URL", "own"): 40, ("reported URL", PARTNER): 10}
    # items with n % 6 in (0, 3) are in a known set: they are the known ones, and auto-classified
    assert o["items_known"] == o["items_auto_classified"] == sum(
        1 for m in seeded[0].rows["media"] if m["status"] == "known")
    assert o["items_new"] == o["items"] - o["items_known"]
    # per week: 28 reports (4 a day) in each of the first ten weeks, 20 in the eleventh
    weeks = Counter()
    months = Counter()
    for r in f.views["reports_by_period"]:
        (weeks if r["grain"] == "week" else months)[r["period"]] += r["reports"]
    assert [weeks[T0.date() + timedelta(weeks=k)] for k in range(11)] == [28] * 10 + [20]
    assert [months[date(2026, m, 1)] for m in (1, 2, 3)] == [27 * 4, 28 * 4, 80]


def test_overview_matches_the_rows(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    rows, f = seeded
    o = f.overview
    outcomes = Counter(oracle.outcome(rid) for rid in oracle.reports)
    assert {k: o[f"reports_{k.replace('-', '_')}"] for k in outcomes} == dict(outcomes)
    assert outcomes["not-illegal"] > 0 and outcomes["no-media"] > 0 and outcomes["awaiting-review"] > 0
    # counted as INHOPE does: illegal although other items of the report still wait
    assert any(oracle.outcome(rid) == "illegal" and oracle.ok_items(rid) - set(oracle.current) for rid in oracle.reports)
    # a verdict waiting for its second analyst is no decision: its item is awaiting review
    assert oracle.waiting and not oracle.waiting & set(oracle.current)
    assert o["reports_assessed"] == outcomes["illegal"] + outcomes["not-illegal"]
    assert o["share_reports_illegal"] == pytest.approx(outcomes["illegal"] / o["reports_assessed"])
    media = rows.rows["media"]
    assert o["items"] == len(media)
    assert o["items_assessed"] == len(oracle.current)
    assert o["items_illegal"] == len(oracle.illegal)
    assert o["share_items_illegal"] == pytest.approx(len(oracle.illegal) / len(oracle.current))
    by_verdict = Counter(v["verdict"] for v in oracle.current.values())
    assert (o["items_baseline"], o["items_national"], o["items_not_illegal"]) == (
        by_verdict["baseline"], by_verdict["national"], by_verdict["not-illegal"])
    assert o["items_error"] == sum(1 for m in media if m["status"] == "error")
    assert o["items_awaiting_review"] == sum(1 for m in media if m["status"] != "error"
                                             and m["sha256"] not in oracle.current)
    assert o["items_known"] == len(oracle.known)
    assert o["share_items_known"] == pytest.approx(len(oracle.known) / len(media))
    assert o["items_auto_classified"] == sum(1 for v in oracle.first.values() if v["source"] == "known-set")
    assert o["items_analyst_assessed"] == len({v["sha256"] for v in rows.rows["verdicts"] if v["source"] == "analyst"})
    assert o["content_urls"] == len({x["media_url"] for x in oracle.sightings})
    assert o["content_urls_illegal"] == len({x["media_url"] for x in oracle.sightings if x["sha256"] in oracle.illegal})
    # the old headline fields (hotline stats --json) say the same
    assert (f.reports, f.items, f.known_items, f.new_items) == (302, len(media), o["items_known"], o["items_new"])
    assert f.verdicts == dict(sorted(by_verdict.items()))
    assert f.reports_by_status == dict(sorted(Counter(r["status"] for r in rows.rows["reports"]).items()))


def check_time_to(f: Figures, oracle: Oracle) -> dict[str, dict[str, Any]]:
    got = {r["stage"]: r for r in f.views["time_to"]}
    assert list(got) == ["crawl", "verdict", "export", "removal"]
    cutoff = oracle.as_of - timedelta(hours=72)
    for stage, events in oracle.stage_hours().items():
        reached = [h for _, h in events if h is not None]
        overdue = sum(1 for received, h in events if h is None and received <= cutoff)
        within = sum(1 for h in reached if h <= 72)
        row = got[stage]
        assert (row["eligible"], row["reached"], row["within_3_days"], row["overdue"]) == (
            len(events), len(reached), within, overdue), stage
        if not reached:
            assert row["median_hours"] is row["p90_hours"] is None, stage
            continue
        assert row["median_hours"] == pytest.approx(quantile(reached, 0.5)), stage
        assert row["p90_hours"] == pytest.approx(quantile(reached, 0.9)), stage
        assert row["share_within_3_days"] == pytest.approx(within / (len(reached) + overdue)), stage
    return got


def test_time_to_crawl_verdict_export_and_removal(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    _, f = seeded
    got = check_time_to(f, oracle)
    removal = got["removal"]
    # the recent report's URL is still up but only an hour old: not counted against the share
    assert removal["eligible"] - removal["reached"] - removal["overdue"] == 1
    assert f.overview["share_removed_within_3_days"] == removal["share_within_3_days"]
    buckets = {r["bucket"]: r["content_urls"] for r in f.views["removal_days"]}
    assert sum(buckets.values()) == removal["eligible"] and buckets["not removed"] > 0
    assert sum(buckets[b] for b in ("up to 1 day", "1 to 2 days", "2 to 3 days")) == removal["within_3_days"]
    # working days (Monday to Friday), from the notice's date to the removal's
    def working(start: date, end: date) -> int:
        return sum(1 for k in range((end - start).days) if (start + timedelta(days=k)).weekday() < 5)

    tracked = oracle.takedowns()
    days = [working(n.date(), r.date()) for n, r in tracked if r]
    overdue = sum(1 for n, r in tracked if r is None and working(n.date(), oracle.as_of.date()) > 3)
    within = sum(1 for d in days if d <= 3)
    assert (removal["within_3_working_days"], removal["overdue_3_working_days"]) == (within, overdue)
    assert removal["median_working_days"] == pytest.approx(quantile(days, 0.5))
    assert removal["share_within_3_working_days"] == pytest.approx(within / (len(days) + overdue))
    assert f.overview["share_removed_within_3_working_days"] == removal["share_within_3_working_days"]
    assert got["crawl"]["within_3_working_days"] is None  # working days are for removal
    # other content at the URL is changed, apart from removed
    assert f.overview["takedowns_removed"] == len(days)
    assert f.overview["takedowns_changed"] > 0


def test_hosting_countries_and_site_types(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    rows, f = seeded
    illegal = [x for x in oracle.sightings if x["sha256"] in oracle.illegal]
    total = len(oracle.illegal)
    n_of = {m["sha256"]: m["size"] - 1000 for m in rows.rows["media"]}  # the seed's item number
    items: dict[str, dict[str, set[str]]] = {"country": defaultdict(set), "site_type": defaultdict(set)}
    urls: dict[str, dict[str, set[str]]] = {"country": defaultdict(set), "site_type": defaultdict(set)}
    for x in illegal:
        place = {"country": oracle.country(x), "site_type": site_type(n_of[x["sha256"]], x["report_id"] - 1)}
        for dimension, value in place.items():
            items[dimension][value].add(x["sha256"])
            urls[dimension][value].add(x["media_url"])
    for view, dimension in (("hosting_countries", "country"), ("site_types", "site_type")):
        assert {r[dimension]: (r["illegal_items"], r["illegal_content_urls"]) for r in f.views[view]} == {
            k: (len(v), len(urls[dimension][k])) for k, v in items[dimension].items()}, view
        assert {r[dimension]: r["share_of_illegal_items"] for r in f.views[view]} == pytest.approx(
            {k: len(v) / total for k, v in items[dimension].items()}), view
    assert "FR" in items["country"]  # sightings without a country take their page's
    assert set(items["site_type"]) == {"image host", "file host", "forum", "blog", "website"}


def test_duplicates_avoided(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    rows, f = seeded
    order = sorted(oracle.reports.values(), key=lambda r: (r["received_at"], r["id"]))
    expected: Counter[tuple[str, str]] = Counter()
    first_url: dict[str, int] = {}
    for r in order:
        if r["url"] in first_url:
            expected["reported URL", oracle.hotline[first_url[r["url"]]]] += 1
        first_url.setdefault(r["url"], r["id"])
    pairs = sorted({(x["report_id"], x["media_url"]) for x in oracle.sightings},
                   key=lambda p: (oracle.reports[p[0]]["received_at"], p[0]))
    first_content: dict[str, int] = {}
    for rid, url in pairs:
        if url in first_content:
            expected["content URL", oracle.hotline[first_content[url]]] += 1
        first_content.setdefault(url, rid)
    set_source = {k["name"]: k["source"] for k in rows.rows["known_sets"]}
    known_by: dict[str, str] = {}
    for m in rows.rows["matches"]:
        known_by[m["sha256"]] = min(known_by.get(m["sha256"], "~"), set_source[m["set_name"]])
    first_item: dict[str, int] = {}
    for rid, h in sorted(oracle.seen, key=lambda p: (oracle.reports[p[0]]["received_at"], p[0])):
        if h in oracle.known:
            expected["item", f"known set: {known_by[h]}"] += 1
        elif h in first_item:
            expected["item", oracle.hotline[first_item[h]]] += 1
        first_item.setdefault(h, rid)
    got = {(r["what"], r["duplicate_of"]): r["duplicates"] for r in f.views["duplicates"]}
    assert got == dict(expected)
    # by us, by a partner's report, by INTERPOL's and by the partner's known set
    assert {by for what, by in got if what == "item"} == {"own", PARTNER, "known set: INTERPOL",
                                                          f"known set: {PARTNER}"}
    totals = {r["what"]: r["total"] for r in f.views["duplicates"]}
    assert totals == {"reported URL": len(oracle.reports), "content URL": len(pairs), "item": len(oracle.seen)}


def test_breakdowns_by_hotline_verdict_known_set_and_period(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    rows, f = seeded
    by_hotline = {r["hotline"]: r for r in f.views["by_hotline"]}
    for name in ("own", PARTNER):
        mine = [rid for rid in oracle.reports if oracle.hotline[rid] == name]
        assert by_hotline[name]["reports"] == len(mine)
        assert by_hotline[name]["reports_illegal"] == sum(1 for rid in mine if oracle.outcome(rid) == "illegal")
    assert sum(r["items_first_seen"] for r in by_hotline.values()) == len(rows.rows["media"])

    verdicts = Counter((v["verdict"], v["source"]) for v in oracle.current.values())
    verdicts["unassessed", None] = len(rows.rows["media"]) - len(oracle.current)
    assert {(r["verdict"], r["verdict_source"]): r["items"] for r in f.views["items_by_verdict"]} == dict(verdicts)

    matched: dict[str, set[str]] = defaultdict(set)
    for m in rows.rows["matches"]:
        matched[m["set_name"]].add(m["sha256"])
    auto = Counter(v["set_name"] for v in oracle.first.values() if v["source"] == "known-set")
    assert {r["set_name"]: (r["items_matched"], r["items_auto_classified"]) for r in f.views["known_set_matches"]} == {
        k: (len(v), auto[k]) for k, v in matched.items()}

    # new vs known by month of first sighting (the HTML report's chart)
    expected: Counter[tuple[date, bool]] = Counter()
    for m in rows.rows["media"]:
        expected[m["first_seen_at"].date().replace(day=1), m["sha256"] in oracle.known] += 1
    got: Counter[tuple[date, bool]] = Counter()
    for r in f.views["items_by_period"]:
        if r["grain"] == "month":
            got[r["period"], r["known"]] += r["items"]
    assert got == expected

    outcome_by_month: Counter[tuple[date, str]] = Counter(
        (r["received_at"].date().replace(day=1), oracle.outcome(r["id"])) for r in oracle.reports.values())
    got_outcomes = Counter()
    for r in f.views["reports_by_period"]:
        if r["grain"] == "month":
            got_outcomes[r["period"], r["outcome"]] += r["reports"]
    assert got_outcomes == outcome_by_month


@pytest.mark.parametrize("jurisdiction", ["DE", "INTERPOL"])
def test_other_jurisdictions_are_rows_of_the_same_views(
    seeded: tuple[Seeded, Figures], tmp_path: Path, jurisdiction: str
) -> None:
    rows, home = seeded
    assert home.jurisdictions == ["NL", "DE", "INTERPOL"]
    assert {r["jurisdiction"] for r in home.views["time_to"]} == {"NL"}  # a Figures is one jurisdiction's
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    seed(catalog, now=home.as_of)
    f = compute_figures(catalog, SnapshotOptions(country="NL"), jurisdiction=jurisdiction.lower())
    catalog.dispose()
    oracle = Oracle(rows, f.as_of, jurisdiction)
    o = f.overview
    assert o["jurisdiction"] == f.jurisdiction == jurisdiction
    outcomes = Counter(oracle.outcome(rid) for rid in oracle.reports)
    assert {k: o[f"reports_{k.replace('-', '_')}"] for k in outcomes} == dict(outcomes)
    assert (o["items_assessed"], o["items_illegal"]) == (len(oracle.current), len(oracle.illegal))
    if jurisdiction == "INTERPOL":  # INTERPOL's figures agree with the home baseline count
        assert o["items_illegal"] == home.overview["items_baseline"]
        assert o["items_auto_classified"] == home.overview["items_auto_classified"]
    else:
        assert o["items_auto_classified"] == 0  # known sets decide the main verdict only
    assert {r["verdict"] for r in f.views["items_by_verdict"]} == {"illegal", "not-illegal", "unassessed"}
    check_time_to(f, oracle)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://i.imgur.com/abc.jpg", "image host"),
        ("http://www.imagebam.com/view/x", "image host"),
        ("https://mega.nz/file/abc#key", "file host"),
        ("http://example.test/download/archive.zip", "file host"),
        ("https://files.example.test/dl/123", "file host"),
        ("http://forum.example.test/index.php", "forum"),
        ("http://example.test/viewtopic.php?t=12", "forum"),
        ("http://example.test/community/threads/12/", "forum"),
        ("http://board.example.test/b/res/123.html", "image board"),
        ("http://somechan.example.test/b/", "image board"),
        ("http://example.test/b/res/4567.html", "image board"),
        ("https://example.blogspot.com/2024/01/post.html", "blog"),
        ("http://blog.example.test/", "blog"),
        ("https://vk.com/wall123", "social network"),
        ("https://www.youtube.com/watch?v=x", "video host"),
        ("http://example.test/gallery/1", "website"),
        ("http://imgur.com.evil.test/x.jpg", "website"),  # a look-alike host is not the service
        ("http://example.test/page?next=/forum/", "website"),  # the query string does not count
    ],
)
def test_site_type_heuristic(url: str, expected: str) -> None:
    con = duckdb.connect()
    try:
        assert con.execute(f"SELECT {site_type_sql('url')} FROM (SELECT ? AS url)", [url]).fetchall() == [(expected,)]
    finally:
        con.close()


def test_an_empty_catalog_has_every_view_with_zeroes(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    f = compute_figures(catalog)
    catalog.dispose()
    assert f.reports == 0 and f.overview["items"] == 0 and f.overview["share_items_illegal"] is None
    assert [r["stage"] for r in f.views["time_to"]] == ["crawl", "verdict", "export", "removal"]
    assert all(r["reports"] == 0 for r in f.views["report_outcomes"])


def test_time_to_removal_by_host_and_country(seeded: tuple[Seeded, Figures], oracle: Oracle) -> None:
    from urllib.parse import urlsplit

    _, f = seeded
    oracle.takedowns()
    country = {(x["report_id"], x["media_url"]): oracle.country(x) for x in oracle.sightings}
    groups: dict[tuple[str, str], list[datetime | None]] = defaultdict(list)
    for (rid, url), (notice, removed) in oracle.tracked.items():
        hours = max(removed - notice, timedelta(0)).total_seconds() / 3600 if removed else None
        groups[(country[(rid, url)], (urlsplit(url).hostname or "unknown").lower())].append(hours)
    by_host = {(r["country"], r["host"]): r for r in f.views["removal_by_host"] if r["jurisdiction"] == "NL"}
    assert set(by_host) == set(groups) and len(groups) > 1
    for key, hours in groups.items():
        row, done = by_host[key], [h for h in hours if h is not None]
        assert (row["content_urls"], row["removed"]) == (len(hours), len(done)), key
        assert row["median_hours"] == (pytest.approx(quantile(done, 0.5)) if done else None), key
        assert row["max_hours"] == (pytest.approx(max(done)) if done else None), key
    by_country = {r["country"]: r for r in f.views["removal_by_country"] if r["jurisdiction"] == "NL"}
    for c, row in by_country.items():
        done = [h for (k, _), hs in groups.items() if k == c for h in hs if h is not None]
        assert row["content_urls"] == sum(len(hs) for (k, _), hs in groups.items() if k == c)
        assert row["median_hours"] == (pytest.approx(quantile(done, 0.5)) if done else None), c
    removal = {r["stage"]: r for r in f.views["time_to"] if r["jurisdiction"] == "NL"}["removal"]
    assert sum(r["content_urls"] for r in by_country.values()) == removal["eligible"]
    assert sum(r["removed"] for r in by_country.values()) == removal["reached"]


def test_docs_explain_every_table_view_column_and_site_type_rule(tmp_path: Path) -> None:
    """docs/statistics.md has a section per table and view with a row per column, and
    lists every site-type rule: nothing a statistician can query goes unexplained."""
    import re

    import duckdb as ddb

    from stats.build import build, relations
    from stats.extract import extract
    from stats.sitetypes import RULES
    from stats.views import TITLES, VIEWS

    text = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    documented: dict[str, set[str]] = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        name = re.match(r"`(\w+)`", section)
        assert name, section[:40]
        documented[name.group(1)] = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    con = ddb.connect()
    build(con, extract(catalog, con), SnapshotOptions(), version="")
    catalog.dispose()
    kinds = relations(con)
    assert set(documented) == set(kinds)
    for name in kinds:
        columns = {c for (c,) in con.sql(f"SELECT column_name FROM information_schema.columns "
                                          f"WHERE table_name = '{name}'").fetchall()}
        assert documented[name] == columns, name
    con.close()
    assert set(TITLES) == set(VIEWS) == {n for n, k in kinds.items() if k == "view"}
    for rule in RULES:
        assert f"| `{rule.site_type}` | {rule.why} |" in text


def test_duckdb_draws_no_progress_bar_and_a_memory_limit_spills_to_the_folder_given(tmp_path: Path) -> None:
    """Standard output belongs to the command or flow, not to DuckDB's progress bars; a
    bounded connection spills to the folder it is given instead of failing."""
    from catalog.duck import connect

    con = connect(memory_limit="100MB", spill_to=tmp_path / "spill")
    try:
        bar, folder = con.sql("SELECT current_setting('enable_progress_bar'), "
                              "current_setting('temp_directory')").fetchall()[0]
        assert bar is False and folder == str(tmp_path / "spill")
    finally:
        con.close()

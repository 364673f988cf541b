"""The network's statistics: three installations on one machine (two hotlines and a
coordinator, each its own data directory). The hotlines publish signed, media-free monthly
statistics bundles; the coordinator imports them and builds the network snapshot, whose
per-hotline views equal each hotline's own snapshot and whose network figures are their sums.
A repeated bundle changes nothing; a corrected one replaces the month it describes; an older
one arriving late is refused. A hotline that publishes its URL rows fills the views by host
and has a URL that both hotlines saw counted once (its removal too); one that does not sends
no URL at all, and the two mix. Inside the network are the publishers' countries and their
partners'. An item one hotline decided is not queued at its partner, whose law profile derives
its verdict from the grading: not sent to INTERPOL as the partner's, counted as auto-classified
by "partner decision", back in review after a correction. Through the services, the command
line and Prefect's engine."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from exchange_support import confirmed_item, make_installation, register
from people import reviewers
from stats_seed import seed, sha

from catalog.db import utcnow
from catalog.decisions.records import PARTNER_DECISION, GradingRecord, Verdict
from exports.errors import BundleReplayed, StatisticsSuperseded, UnknownSender
from exports.statistics import (
    StatisticsBundle,
    read_statistics_bundle,
    statistics_manifest,
    write_statistics_bundle,
)
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.services.decisions import decide
from hotline.services.network_lists import send_handled_list
from hotline.services.network_stats import (
    add_publisher,
    import_statistics_file,
    poll_statistics,
    publish_statistics,
    publishers,
    write_network,
)
from hotline.services.partner_exchange import export_route, interpol_route, open_bundle, poll_inbound
from stats import SnapshotOptions, write_snapshot
from stats.network import network_figures, open_network, read_received
from stats.publication import month_statistics
from stats.report import render_report
from stats.snapshot_versions import DATABASE
from stats.views import VIEWS

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """Rows in a stable order, floats rounded (sums of the same numbers in another order)."""
    return sorted((tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in con.sql(sql).fetchall()),
                  key=repr)


def _own_snapshot(inst: Installation, urls: str = "host") -> duckdb.DuckDBPyConnection:
    s = inst.settings
    info = write_snapshot(inst.catalog, s.snapshot_dir, SnapshotOptions(country=s.country, urls=urls))
    return duckdb.connect(str(info.path / DATABASE), read_only=True)


def _network(coord: Installation) -> duckdb.DuckDBPyConnection:
    return open_network(coord.settings.network_folder / "snapshot")


def _assert_views_equal(network: duckdb.DuckDBPyConnection, hotline: str, own: duckdb.DuckDBPyConnection, *,
                        hosts: bool = False) -> None:
    """Every figure view of ``hotline`` in the network snapshot equals its own snapshot's; a
    view by host has its hosts as ``unknown`` there unless the hotline publishes its URL rows
    (``hosts``), and the same totals."""
    for name in VIEWS:
        if name == "removal_by_host" and not hosts:
            by_country = "SELECT jurisdiction, country, sum(content_urls), sum(removed) FROM removal_by_host"
            assert _rows(network, f"{by_country} WHERE hotline = '{hotline}' GROUP BY ALL ORDER BY ALL") == \
                _rows(own, f"{by_country} GROUP BY ALL ORDER BY ALL"), name
            assert _rows(network, f"SELECT DISTINCT host FROM removal_by_host WHERE hotline = '{hotline}'") in \
                ([], [("unknown",)]), name
            continue
        columns = own.sql(f"SELECT * FROM {name} LIMIT 0").columns
        picked = ", ".join("reported_by AS hotline" if c == "hotline" else c for c in columns)
        mine = _rows(own, f"SELECT * FROM {name}")
        theirs = _rows(network, f"SELECT {picked} FROM {name} WHERE hotline = '{hotline}'")
        assert theirs == mine, name


def _overview(con: duckdb.DuckDBPyConnection, jurisdiction: str, where: str = "") -> dict[str, Any]:
    rel = con.sql(f"SELECT * FROM overview WHERE jurisdiction = '{jurisdiction}' {where}")
    rows = rel.fetchall()
    assert len(rows) == 1, (jurisdiction, where, rows)
    return dict(zip(rel.columns, rows[0], strict=True))


def _network_overview(con: duckdb.DuckDBPyConnection, jurisdiction: str) -> dict[str, Any]:
    rel = con.sql(f"SELECT * FROM network_overview WHERE jurisdiction = '{jurisdiction}'")
    return dict(zip(rel.columns, rel.fetchall()[0], strict=True))


@pytest.fixture(params=[{}], ids=["no URLs"])
def network(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """The coordinator, the Dutch and the Belgian hotline; ``request.param``: the hotlines'
    URL publication, {country: stats_publish_urls} (default: off)."""
    coord = make_installation(tmp_path, "coordinator", "LU")
    inbox = coord.settings.network_folder / "inbox"
    inbox.mkdir(parents=True)
    publish_to = {"stats_coordinator": str(inbox), "stats_coordinator_key": coord.keys.public_files()["inbox"]}
    nl = make_installation(tmp_path, "nl", "NL", **publish_to, stats_publish_urls=request.param.get("NL", False))
    be = make_installation(tmp_path, "be", "BE", **publish_to, stats_publish_urls=request.param.get("BE", False))
    seed(nl.catalog)
    seed(be.catalog)
    # the Belgian hotline has more than the seed: its own figures differ from the Dutch ones
    for k, country in enumerate(("BE", "BE", "NL", "FR")):
        confirmed_item(be, os.urandom(64) + bytes([k]), page_url=f"http://be{k}.example.test/gallery",
                       country=country, image=False)
    add_publisher(coord, "nl-hotline", [nl.keys.public_files()["signing"]], actor="test")
    register(coord, be, "be-hotline", countries=["BE"])  # a partner's statistics are taken too
    yield coord, nl, be
    for inst in (coord, nl, be):
        inst.close()


def test_network_figures_are_the_sum_of_the_hotlines_own(network: Any) -> None:
    coord, nl, be = network
    sent = publish_statistics(nl, actor="test") + publish_statistics(be, actor="test")
    assert sorted(p.period for p in sent) == ["2026-01", "2026-01", "2026-02", "2026-02", "2026-03", "2026-03",
                                              f"{utcnow():%Y-%m}", f"{utcnow():%Y-%m}"]
    polled = poll_statistics(coord, actor="test")
    assert polled.refused == [] and len(polled.imported) == 8 and polled.snapshot is not None
    assert {r.hotline for r in polled.imported} == {"nl-hotline", "be-hotline"}

    own_nl, own_be, net = _own_snapshot(nl), _own_snapshot(be), _network(coord)
    _assert_views_equal(net, "nl-hotline", own_nl)
    _assert_views_equal(net, "be-hotline", own_be)
    nl_home, be_home = _overview(own_nl, "NL"), _overview(own_be, "BE")
    assert be_home["reports_received"] == nl_home["reports_received"] + 4 == 306
    assert be_home["items_illegal"] > nl_home["items_illegal"]
    counts = [c for c, v in nl_home.items() if isinstance(v, int) and not c.startswith("share")]
    assert len(counts) >= 25
    for jurisdiction, mine, theirs in (("home", nl_home, be_home),
                                       ("INTERPOL", _overview(own_nl, "INTERPOL"), _overview(own_be, "INTERPOL"))):
        total = _network_overview(net, jurisdiction)
        assert total["hotlines"] == 2
        assert {c: total[c] for c in counts} == {c: mine[c] + theirs[c] for c in counts}, jurisdiction
        assert total["share_items_new"] == pytest.approx((mine["items_new"] + theirs["items_new"])
                                                         / (mine["items"] + theirs["items"]))
    # network figures: URLs exchanged, reports per hosting country, removal inside and outside
    exchanged = dict(net.sql("SELECT direction, sum(urls) FROM urls_exchanged GROUP BY 1").fetchall())
    locations = sum(own.sql("SELECT count(*) FROM export_locations").fetchall()[0][0] for own in (own_nl, own_be))
    partner_reports = nl_home["reports_from_partners"] + be_home["reports_from_partners"]
    assert exchanged == {"sent": locations, "received": partner_reports} and locations > 0
    hosted = dict(net.sql("SELECT country, reports FROM reports_by_hosting_country WHERE jurisdiction = 'home'")
                  .fetchall())
    be_hosted = own_be.sql("SELECT count(DISTINCT report_id) FROM illegal_sightings "
                           "WHERE jurisdiction = 'BE' AND country = 'BE'").fetchall()[0][0]
    assert hosted["BE"] == be_hosted == 2 and hosted["NL"] > 0
    removal = {inside: (eligible, reached) for inside, eligible, reached in net.sql(
        "SELECT in_network, eligible, reached FROM removal_in_network WHERE jurisdiction = 'home'").fetchall()}
    tracked = [own.sql(f"SELECT count(*), count(hours_to_removal), count(*) FILTER (WHERE country IN ('NL', 'BE')) "
                       f"FROM takedowns WHERE illegal AND jurisdiction = '{j}'").fetchall()[0]
               for own, j in ((own_nl, "NL"), (own_be, "BE"))]
    assert sum(removal[True]) + sum(removal[False]) == sum(t[0] + t[1] for t in tracked)
    assert removal[True][0] == sum(t[2] for t in tracked) > 0 and removal[False][0] > 0
    # no item's SHA-256, no URL, no reporter and no analyst reached the coordinator
    texts = []
    for (name,) in net.sql("SELECT table_name FROM information_schema.tables").fetchall():
        texts += [repr(r) for r in net.sql(f"SELECT * FROM {name}").fetchall()]
    everything = "\n".join(texts)
    assert sha(1) not in everything and sha(2) not in everything and "://" not in everything
    assert "secret" not in everything and ".test" not in everything
    for con in (own_nl, own_be, net):
        con.close()


def test_a_repeated_bundle_changes_nothing_and_a_corrected_one_replaces(network: Any) -> None:
    coord, nl, be = network
    publish_statistics(nl, actor="test")
    publish_statistics(be, actor="test")
    first = poll_statistics(coord, actor="test")
    assert len(first.imported) == 8 and first.snapshot is not None
    net = _network(coord)
    before = _rows(net, "SELECT * FROM network_overview")
    home_before = _network_overview(net, "home")
    net.close()

    # the same bundle again, picked up at its place or as a copy under another name: refused
    inbox = coord.settings.network_folder / "inbox"
    again = sorted(inbox.glob("*.hlb"))[0]
    with pytest.raises(BundleReplayed):
        import_statistics_file(coord, again, actor="test")
    shutil.copy(again, inbox / "hotline-copy.hlb")
    repeated = poll_statistics(coord, actor="test")
    assert repeated.imported == [] and repeated.skipped == 8 and repeated.snapshot is None
    assert [why.split(":")[0] for _, why in repeated.refused] == ["BundleReplayed"]
    net = _network(coord)
    assert net.sql("SELECT version FROM snapshot").fetchall()[0][0] == first.snapshot.version
    assert _rows(net, "SELECT * FROM network_overview") == before
    assert net.sql("SELECT count(*) FROM periods").fetchall()[0][0] == 8
    net.close()

    # a correction of this month: a new report at the Dutch hotline, published twice
    month = f"{utcnow():%Y-%m}"
    confirmed_item(nl, os.urandom(80), page_url="http://late.example.test/gallery", country="NL", image=False)
    older = publish_statistics(nl, periods=[month], actor="test")[0]
    newer = publish_statistics(nl, periods=[month], actor="test")[0]
    done = poll_statistics(coord, actor="test", files=[Path(newer.location)])
    assert [(r.hotline, r.period, r.replaced) for r in done.imported] == [("nl-hotline", month, True)]
    with pytest.raises(StatisticsSuperseded):  # the older version, arriving late
        import_statistics_file(coord, Path(older.location), actor="test")
    assert [e.status for e in coord.catalog.inbound(limit=2)] == ["refused", "imported"]

    net, own_nl, own_be = _network(coord), _own_snapshot(nl), _own_snapshot(be)
    _assert_views_equal(net, "nl-hotline", own_nl)
    _assert_views_equal(net, "be-hotline", own_be)
    after = _network_overview(net, "home")
    assert after["reports_received"] == home_before["reports_received"] + 1 == 302 + 306 + 1
    assert net.sql("SELECT count(*) FROM periods").fetchall()[0][0] == 8
    assert net.sql(f"SELECT bundle_id FROM periods WHERE hotline = 'nl-hotline' AND period = '{month}'"
                   ).fetchall() == [(newer.bundle_id,)]
    for con in (net, own_nl, own_be):
        con.close()


def test_statistics_of_an_unknown_sender_are_refused(network: Any, tmp_path: Path) -> None:
    coord, nl, _ = network
    stranger = make_installation(tmp_path, "stranger", "DK", stats_coordinator=nl.settings.stats_coordinator,
                                 stats_coordinator_key=nl.settings.stats_coordinator_key)
    sent = publish_statistics(stranger, periods=[f"{utcnow():%Y-%m}"], actor="test")  # a month of nothing
    with pytest.raises(UnknownSender):
        import_statistics_file(coord, Path(sent[0].location), actor="test")
    refused = coord.catalog.inbound(limit=1)[0]
    assert refused.status == "refused" and "UnknownSender" in (refused.reason or "")
    assert not (coord.settings.network_folder / "received").exists() or not any(
        p for p in (coord.settings.network_folder / "received").iterdir() if not p.name.startswith("."))
    stranger.close()


def _cli(data_dir: Path, country: str, *args: str, **env: str) -> Any:
    environment = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_COUNTRY": country, "COLUMNS": "200",
                   **{f"HOTLINE_{k.upper()}": v for k, v in env.items()}}
    environment.pop("HOTLINE_CONFIG", None)
    done = subprocess.run([*HOTLINE, *args], capture_output=True, text=True, env=environment, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def test_the_command_line_publishes_imports_and_reports(network: Any, tmp_path: Path) -> None:
    coord, nl, be = network
    for inst in network:
        inst.close()
    env = {"stats_coordinator": str(coord.settings.network_folder / "inbox"),
           "stats_coordinator_key": str(coord.keys.public_files()["inbox"])}
    sent = _cli(nl.settings.data_dir, "NL", "stats", "publish", "--all", "--json", **env)["published"]
    assert len(sent) == 4
    # the Belgian hotline sends its URL rows this once (its setting says no)
    assert len(_cli(be.settings.data_dir, "BE", "stats", "publish", "--months", "1", "--urls", "--json",
                    **env)["published"]) == 1
    polled = _cli(coord.settings.data_dir, "LU", "stats", "import", "--json")
    assert len(polled["imported"]) == 5 and polled["refused"] == []
    assert {(r.hotline, r.urls_included) for r in read_received(coord.settings.network_folder / "received")} == {
        ("nl-hotline", False), ("be-hotline", True)}
    figures = _cli(coord.settings.data_dir, "LU", "stats", "network", "--json")
    assert figures["jurisdiction"] == "home" and figures["overview"]["hotlines"] == 2
    # the Dutch hotline's four months, and this month of the Belgian one
    assert figures["overview"]["reports_received"] == 302 + 2 + 4  # the seed's two recent reports, our four
    page = _cli(coord.settings.data_dir, "LU", "stats", "report", "--network", "--out", str(tmp_path / "r"), "--json")
    html = Path(page["report"]).read_text()
    assert "URLs exchanged" in html and "nl-hotline" in html and "be-hotline" in html and "<svg" in html


@pytest.mark.usefixtures("prefect_server")
def test_the_scheduled_flows_publish_and_import(network: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.import_stats import import_statistics
    from flows.publish_stats import publish_statistics_flow

    coord, nl, _ = network
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(nl.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", "NL")
    monkeypatch.setenv("HOTLINE_STATS_COORDINATOR", str(nl.settings.stats_coordinator))
    monkeypatch.setenv("HOTLINE_STATS_COORDINATOR_KEY", str(nl.settings.stats_coordinator_key))
    published = publish_statistics_flow()  # the setting's last two months with figures
    assert [p["period"] for p in published] == ["2026-03", f"{utcnow():%Y-%m}"]
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(coord.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", "LU")
    polled = import_statistics()
    assert [r["hotline"] for r in polled["imported"]] == ["nl-hotline", "nl-hotline"] and polled["refused"] == []
    assert polled["snapshot"]["hotlines"] == ["nl-hotline"] and polled["snapshot"]["periods"] == 2
    assert import_statistics()["skipped"] == 2


def _opened(coord: Installation, path: Path) -> tuple[StatisticsBundle, str]:
    """A bundle as the coordinator reads it, and every value it carries as text."""
    bundle = read_statistics_bundle(path, recipients=coord.keys.receiving_keys(), publishers=publishers(coord))
    texts = [json.dumps(bundle.manifest)]
    texts += [repr(pq.read_table(io.BytesIO(data)).to_pylist()) for data in bundle.files.values()]
    return bundle, "\n".join(texts)


def _own_urls(own: duckdb.DuckDBPyConnection, country: str) -> dict[str, tuple[str, bool]]:
    """url -> (host, illegal) of the content URLs of a hotline's own snapshot (full URLs kept)
    under its home jurisdiction."""
    rows = own.sql(f"SELECT u.url, u.host, c.illegal FROM content_urls c JOIN urls u USING (url_id) "
                   f"WHERE c.jurisdiction = '{country}'").fetchall()
    return {url: (host, illegal) for url, host, illegal in rows}


def _own_takedowns(own: duckdb.DuckDBPyConnection, country: str) -> dict[str, bool]:
    """url -> found removed, of the tracked content URLs of illegal items."""
    return dict(own.sql(f"SELECT u.url, bool_or(t.removed) FROM takedowns t JOIN urls u USING (url_id) "
                        f"WHERE t.illegal AND t.jurisdiction = '{country}' GROUP BY 1").fetchall())


def _own_sent(own: duckdb.DuckDBPyConnection) -> set[str]:
    return {u for (u,) in own.sql("SELECT DISTINCT u.url FROM export_locations l "
                                  "JOIN urls u ON u.url_id = l.media_url_id").fetchall()}


def _network_urls(net: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rel = net.sql("SELECT * FROM network_urls WHERE jurisdiction = 'home'")
    rows = rel.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(rel.columns, rows[0], strict=True))


@pytest.mark.parametrize("network", [{"NL": True, "BE": True}], ids=["URLs"], indirect=True)
def test_published_urls_fill_the_views_by_host_and_count_once(network: Any) -> None:
    coord, nl, be = network
    sent = publish_statistics(nl, actor="test") + publish_statistics(be, actor="test")
    opened = [_opened(coord, Path(p.location)) for p in sent]
    assert all(b.urls_included and "urls.parquet" in b.files for b, _ in opened)
    assert any("://" in text and ".test" in text for _, text in opened)  # the URL rows travel
    assert not any(sha(1) in text or "secret" in text for _, text in opened)  # never a hash or a reporter
    first = poll_statistics(coord, actor="test")
    assert first.refused == [] and len(first.imported) == 8 and first.snapshot is not None

    own_nl, own_be, net = _own_snapshot(nl, "full"), _own_snapshot(be, "full"), _network(coord)
    # the views by host equal the hotlines' own, hosts and all
    _assert_views_equal(net, "nl-hotline", own_nl, hosts=True)
    _assert_views_equal(net, "be-hotline", own_be, hosts=True)
    hosts = {h for (h,) in net.sql("SELECT DISTINCT host FROM removal_by_host").fetchall()}
    assert "i.imgur.com" in hosts and "unknown" not in hosts

    # per URL, the network counts each once: the seed's URLs were reported to both hotlines
    mine, theirs = _own_urls(own_nl, "NL"), _own_urls(own_be, "BE")
    union, both = mine.keys() | theirs.keys(), mine.keys() & theirs.keys()
    assert both and theirs.keys() - mine.keys() and len(union) < len(mine) + len(theirs)
    illegal = {u for u in union if mine.get(u, ("", False))[1] or theirs.get(u, ("", False))[1]}
    host_of = {u: h for u, (h, _) in {**mine, **theirs}.items()}
    sent_urls = _own_sent(own_nl) | _own_sent(own_be)
    tracked = _own_takedowns(own_nl, "NL")
    for url, removed in _own_takedowns(own_be, "BE").items():
        tracked[url] = tracked.get(url, False) or removed
    urls = _network_urls(net)
    assert urls["hotlines"] == 2
    assert urls["content_urls"] == len(union)
    assert urls["content_urls_illegal"] == len(illegal) > 0
    assert urls["content_urls_seen_by_several"] == len(both)
    assert urls["hosts"] == len(set(host_of.values()))
    assert urls["urls_exchanged"] == len(sent_urls) > 0
    assert urls["urls_exchanged"] < len(_own_sent(own_nl)) + len(_own_sent(own_be))
    by_host: dict[str, list[int]] = {}
    for url in union:
        counts = by_host.setdefault(host_of[url], [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += url in illegal
        counts[2] += url in tracked
        counts[3] += tracked.get(url, False)
    assert {h: [a, b, c, d] for h, a, b, c, d in net.sql(
        "SELECT host, content_urls, content_urls_illegal, tracked, removed FROM network_hosts "
        "WHERE jurisdiction = 'home'").fetchall()} == by_host
    assert sum(c[3] for c in by_host.values()) > 0
    # removal inside and outside the network counts each tracked URL once, however many
    # hotlines track it: from the earliest notice any sent to the earliest removal any found
    clocks: dict[str, tuple[Any, Any]] = {}
    for own, country in ((own_nl, "NL"), (own_be, "BE")):
        for url, notice_at, removed_at in own.sql(
                f"SELECT u.url, min(t.notice_at), min(t.removed_at) FROM takedowns t JOIN urls u USING (url_id) "
                f"WHERE t.illegal AND t.jurisdiction = '{country}' GROUP BY 1").fetchall():
            was = clocks.get(url, (notice_at, removed_at))
            clocks[url] = (min(was[0], notice_at), min((r for r in (was[1], removed_at) if r), default=None))
    hours = [max((r - n).total_seconds() / 3600, 0) for n, r in clocks.values() if r is not None]
    eligible, reached, within = net.sql("SELECT sum(eligible), sum(reached), sum(within_3_days) "
                                        "FROM removal_in_network WHERE jurisdiction = 'home'").fetchall()[0]
    rows = sum(own.sql(f"SELECT count(*) FROM takedowns WHERE illegal AND jurisdiction = '{c}'").fetchall()[0][0]
               for own, c in ((own_nl, "NL"), (own_be, "BE")))
    assert set(_own_takedowns(own_nl, "NL")) & set(_own_takedowns(own_be, "BE"))  # tracked by both
    assert (eligible, reached) == (len(tracked), sum(tracked.values())) and eligible < rows
    assert within == sum(h <= 72 for h in hours) and reached == len(hours)
    # the overview counts content URLs once too; every other count is still the hotlines' sum
    total, nl_home, be_home = _network_overview(net, "home"), _overview(own_nl, "NL"), _overview(own_be, "BE")
    assert (total["content_urls"], total["content_urls_illegal"]) == (len(union), len(illegal))
    assert nl_home["content_urls"] + be_home["content_urls"] > total["content_urls"]
    assert total["reports_received"] == nl_home["reports_received"] + be_home["reports_received"]
    assert total["items_illegal"] == nl_home["items_illegal"] + be_home["items_illegal"]
    figures = network_figures(coord.settings.network_folder / "snapshot")  # the console's and report's
    assert figures.views["network_urls"][0]["content_urls"] == len(union)
    assert "i.imgur.com" in render_report(figures)
    before = {name: _rows(net, f"SELECT * FROM {name}") for name in ("network_urls", "network_hosts",
                                                                     "network_overview", "removal_by_host")}
    net.close()

    # a repeated bundle changes nothing; the months published again replace the kept ones,
    # and no URL counts twice for it (URL numbers differ from one publication to the next)
    inbox = coord.settings.network_folder / "inbox"
    shutil.copy(Path(sent[0].location), inbox / "hotline-again.hlb")
    repeated = poll_statistics(coord, actor="test")
    assert repeated.imported == [] and [w.split(":")[0] for _, w in repeated.refused] == ["BundleReplayed"]
    net = _network(coord)
    assert net.sql("SELECT version FROM snapshot").fetchall()[0][0] == first.snapshot.version
    net.close()
    again = publish_statistics(nl, actor="test") + publish_statistics(be, actor="test")
    replaced = poll_statistics(coord, actor="test", files=[Path(p.location) for p in again])
    assert len(replaced.imported) == 8 and all(r.replaced for r in replaced.imported)
    net = _network(coord)
    assert {name: _rows(net, f"SELECT * FROM {name}") for name in before} == before
    for con in (net, own_nl, own_be):
        con.close()


@pytest.mark.parametrize("network", [{"NL": True}], ids=["URLs from one"], indirect=True)
def test_a_hotline_without_the_option_sends_no_url_and_mixes_with_one_that_does(network: Any) -> None:
    coord, nl, be = network
    from_nl, from_be = publish_statistics(nl, actor="test"), publish_statistics(be, actor="test")
    for p in from_be:
        bundle, text = _opened(coord, Path(p.location))
        assert not bundle.urls_included and not {"urls.parquet", "exchanged_urls.parquet"} & bundle.files.keys()
        assert "://" not in text and ".test" not in text and "imgur" not in text, p.period
        assert all(b".example.test" not in data for data in bundle.files.values())
        assert b".example.test" not in Path(p.location).read_bytes()
    assert any("://" in _opened(coord, Path(p.location))[1] for p in from_nl)
    polled = poll_statistics(coord, actor="test")
    assert polled.refused == [] and len(polled.imported) == 8

    own_nl, own_be, net = _own_snapshot(nl, "full"), _own_snapshot(be), _network(coord)
    _assert_views_equal(net, "nl-hotline", own_nl, hosts=True)
    _assert_views_equal(net, "be-hotline", own_be)  # its hosts unknown
    assert net.sql("SELECT count(*) FROM urls WHERE hotline = 'be-hotline'").fetchall()[0][0] == 0
    mine = _own_urls(own_nl, "NL")
    urls = _network_urls(net)
    assert (urls["hotlines"], urls["content_urls"], urls["content_urls_seen_by_several"]) == (1, len(mine), 0)
    # without its URLs, the Belgian hotline's content URLs cannot be matched to the Dutch: they add up
    be_home = _overview(own_be, "BE")
    assert _network_overview(net, "home")["content_urls"] == len(mine) + be_home["content_urls"]
    for con in (net, own_nl, own_be):
        con.close()


def test_inside_the_network_are_the_publishers_countries_and_their_partners(network: Any, tmp_path: Path) -> None:
    coord, nl, be = network
    de = make_installation(tmp_path, "de", "DE")
    register(nl, de, "de-hotline", countries=["DE"])  # a partner of the Dutch hotline, publishing nothing
    de.close()
    publish_statistics(nl, actor="test")
    publish_statistics(be, actor="test")
    assert len(poll_statistics(coord, actor="test").imported) == 8

    own_nl, own_be, net = _own_snapshot(nl), _own_snapshot(be), _network(coord)
    assert _rows(net, "SELECT * FROM network_countries") == [
        ("BE", "be-hotline", "home"), ("DE", "nl-hotline", "partner"), ("NL", "nl-hotline", "home")]
    assert _rows(net, "SELECT hotline, partner_countries FROM hotlines") == [
        ("be-hotline", []), ("nl-hotline", ["DE"])]
    tracked = [own.sql(f"SELECT count(*) FILTER (WHERE country IN ('NL', 'BE', 'DE')), "
                       f"count(*) FILTER (WHERE country = 'DE'), count(*) FROM takedowns "
                       f"WHERE illegal AND jurisdiction = '{j}'").fetchall()[0]
               for own, j in ((own_nl, "NL"), (own_be, "BE"))]
    eligible = dict(net.sql("SELECT in_network, eligible FROM removal_in_network WHERE jurisdiction = 'home'")
                    .fetchall())
    assert eligible[True] == sum(t[0] for t in tracked) and sum(t[1] for t in tracked) > 0
    assert eligible[False] == sum(t[2] - t[0] for t in tracked) > 0
    inside = dict(net.sql("SELECT DISTINCT country, in_network FROM reports_by_hosting_country").fetchall())
    assert inside["DE"] and inside["NL"] and not inside["US"] and not inside["RU"]
    net.close()

    # a bundle from an installation that predates URL rows and partner countries is read as
    # having neither: it imports, and replaces the month it describes
    month = month_statistics(be.catalog, SnapshotOptions(country="BE", urls="none"), last=1)[0]
    manifest = statistics_manifest(period=month.period, as_of=month.as_of, sender_country="BE", rows=month.rows,
                                   urls_included=False, partner_countries=[])
    del manifest["urls_included"], manifest["partner_countries"]
    legacy = tmp_path / "legacy.hlb"
    with legacy.open("wb") as out:
        write_statistics_bundle(out, manifest, month.files, sender=be.keys.signing_private(),
                                recipients=[coord.keys.inbox_public()])
    done = import_statistics_file(coord, legacy, actor="test")
    assert (done.hotline, done.period, done.replaced) == ("be-hotline", month.period, True)
    polled = poll_statistics(coord, actor="test")  # the inbox's bundles were handled: only a rebuild
    assert polled.imported == [] and polled.snapshot is None
    write_network(coord)
    net = _network(coord)
    assert _rows(net, "SELECT DISTINCT hotline, period, urls_included FROM periods WHERE hotline = 'be-hotline'") \
        == [("be-hotline", p, False) for p in ("2026-01", "2026-02", "2026-03", f"{utcnow():%Y-%m}")]
    assert _rows(net, "SELECT * FROM network_countries") == [
        ("BE", "be-hotline", "home"), ("DE", "nl-hotline", "partner"), ("NL", "nl-hotline", "home")]
    _assert_views_equal(net, "be-hotline", own_be)
    for con in (net, own_nl, own_be):
        con.close()


def test_an_item_a_partner_decided_counts_as_auto_classified_by_partner_decision(network: Any) -> None:
    """The Belgian hotline decides a picture; the Dutch one, its partner, has the same file
    queued: the Belgian list arrives, the Dutch law profile derives the Dutch verdict from
    the Belgian grading, and the item leaves the queue. It is not sent to INTERPOL as the
    Dutch hotline's, both snapshots and the network count it as auto-classified by
    ``partner decision``, and the Belgian correction sends it back to review."""
    coord, nl, be = network
    register(nl, be, "be-hotline", countries=["BE"])
    register(be, nl, "nl-hotline", countries=["NL"])
    # the Belgian law profile: the template country's rules (illustrative, as every shipped one)
    be.settings.law_profiles_dir.mkdir(parents=True, exist_ok=True)
    template = (Path(__file__).parent.parent / "classification" / "profiles" / "xx.toml").read_text()
    (be.settings.law_profiles_dir / "be.toml").write_text(template.replace('jurisdiction = "XX"', 'jurisdiction = "BE"'))
    reviewers(be.catalog)
    picture = synthetic_image(61)
    item = confirmed_item(be, picture, page_url="http://decided.example.test/", country="BE", verdict=None)
    decide(be, item, "ann", graded=GradingRecord("prepubescent", ("male",), "real", True, False, 3))
    queued = confirmed_item(nl, picture, page_url="http://mirror.example.test/", country="NL", verdict=None)
    assert queued == item and nl.catalog.media_in_status([item], "queued") == {item}

    send_handled_list(be, "nl-hotline", actor="test")
    assert poll_inbound(nl, actor="test").refused == []
    assert nl.catalog.media_in_status([item], "classified") == {item} and nl.catalog.cluster_of(item) is None
    state = nl.catalog.decision_state(item)
    assert (state.verdict, state.source) == (Verdict.BASELINE, PARTNER_DECISION)
    # nobody at the Dutch hotline decided it: INTERPOL is not sent it as the hotline's own
    sent = [i["sha256"] for d in export_route(nl, interpol_route(nl), actor="test")
            for i in open_bundle(nl, Path(d.location), actor="test").manifest["items"]]
    assert sent and item not in sent

    own_nl = _own_snapshot(nl)
    assert own_nl.sql("SELECT auto_classified, auto_classified_by, analyst_assessed FROM item_facts f "
                      "JOIN items i USING (item_id) WHERE f.jurisdiction = 'NL' AND i.kind = 'image' "
                      "AND f.verdict_source = 'partner'").fetchall() == [(True, "partner decision", False)]
    publish_statistics(nl, actor="test")
    publish_statistics(be, actor="test")
    assert poll_statistics(coord, actor="test").refused == []
    net = _network(coord)
    assert net.sql("SELECT hotline, count(*) FROM item_facts WHERE auto_classified_by = 'partner decision' "
                   "AND jurisdiction = 'NL' GROUP BY 1").fetchall() == [("nl-hotline", 1)]
    assert _overview(net, "NL", "AND hotline = 'nl-hotline'")["items_auto_classified"] == \
        _overview(own_nl, "NL")["items_auto_classified"]
    for con in (net, own_nl):
        con.close()

    # the Belgian senior corrects the grading: the next list sends the Dutch copy back to review
    decide(be, item, "sam", graded=GradingRecord("adult", ("male",), "real", True, False, 3),
           reason="a second look: an adult")
    send_handled_list(be, "nl-hotline", actor="test")
    assert poll_inbound(nl, actor="test").refused == []
    assert nl.catalog.media_in_status([item], "queued") == {item} and nl.catalog.cluster_of(item) is not None
    (outcome,) = nl.catalog.outcomes([nl.catalog.list_reports(limit=1_000_000)[-1].id])
    assert (outcome.sha256, outcome.verdict) == (item, None)
    assert [e.subject for e in nl.catalog.audit_entries("verdict.withdraw")] == [item]
    (seen,) = nl.catalog.partner_handling(sha256=item)
    assert (seen.verdict, seen.grading["age_group"]) == ("not-illegal", "adult")

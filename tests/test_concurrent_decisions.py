"""Decisions that race: two writers at once, each with a catalog of its own (an engine each,
as two processes have), on SQLite and PostgreSQL.

Each test lets the first writer hold its write transaction open, its change made and its
locks taken, until the second writer has looked at the item (or the rules) and starts to
write; only then does the first commit. So the second always decides on a state that is
stale by the time it writes, whatever the timing and the database: before the fix its
decision landed anyway (two verdicts on one item, an override over a confirmation or an
export it never saw, a verdict without the four-eyes rule an admin had just switched on, a
confirmation of a replaced verdict). Now the catalog reads the state and the rules again in
the writing transaction, with the item locked, and refuses.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from people import NO_LOGIN, add_people, reviewers
from typer.testing import CliRunner

from catalog.catalog import Catalog
from catalog.decisions.records import Verdict
from catalog.errors import DecidedMeanwhile, RulesChanged
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import (
    ReviewConfig,
    claim_next,
    classify,
    confirm,
    decide_cluster,
    decide_item,
    grading,
    load_profile_set,
    triage,
)
from classification.review import set_by_hand
from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.passwords import hash_password
from hotline.settings import Settings
from review.app import create_app
from review.server import running

CONFIG = ReviewConfig(profiles=load_profile_set("XX", ["DE"]))
BASELINE = grading(age_group="prepubescent", depiction="real", sexual_activity=True)
WAIT = 120  # seconds: only a broken test waits this long; nothing is timed
T = TypeVar("T")


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog(catalog_url)
    cat.migrate()
    reviewers(cat)
    yield cat
    cat.dispose()


@pytest.fixture
def writers(catalog_url: str) -> Iterator[tuple[Catalog, Catalog]]:
    """Two more catalogs on the same database: the first and the second writer."""
    pair = (Catalog(catalog_url), Catalog(catalog_url))
    yield pair
    for cat in pair:
        cat.dispose()


def _items(catalog: Catalog, n: int, seed: str = "race") -> list[str]:
    """``n`` items waiting in the review queue, each in a cluster of its own."""
    shas = [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n)]
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult(
        url="http://site.test/", media=tuple(MediaRecord(s, 100, "image/jpeg") for s in shas),
        sightings=tuple(SightingRecord(s, f"http://site.test/{s[:8]}.jpg", "http://site.test/") for s in shas)))
    catalog.record_hashes([HashRecord(s, "sha256", s) for s in shas])
    triage(catalog, shas, [])
    return shas


@contextmanager
def _first_holds_until_second_writes(first: Catalog, second: Catalog | type[Catalog],
                                     *where: str) -> Iterator[None]:
    """``first``'s write transactions stay open (changes made, locks held) until the second
    writer begins to write; the second begins only once the first holds its transaction.
    ``second``: the second writer's catalog, or the ``Catalog`` class for every other catalog
    in this process (the command line opens its own); ``where``: the methods at which it
    begins to write (default: its every write transaction)."""
    held, writing = threading.Event(), threading.Event()
    first_write = first.write

    @contextmanager
    def holding() -> Iterator[Any]:
        with first_write() as conn:
            yield conn
            held.set()  # still inside the transaction: it commits when this returns
            assert writing.wait(WAIT), "the second writer never wrote"

    def after_first(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def begins(*args: Any, **kwargs: Any) -> Any:
            assert held.wait(WAIT), "the first writer never held its transaction"
            writing.set()  # the second writer has looked: from now on the first may commit
            return method(*args, **kwargs)
        return begins

    first.write = holding  # type: ignore[method-assign]
    names = where or ("write",)
    for name in names:
        setattr(second, name, after_first(getattr(second, name)))
    try:
        yield
    finally:
        del first.write
        for name in names:
            delattr(second, name)


def _race(first: Catalog, act_first: Callable[[Catalog], object], second: Catalog,
          act_second: Callable[[Catalog], T]) -> tuple[object, Future[T]]:
    """Run ``act_first`` (holding its transaction) and ``act_second`` (looking before that
    commits, writing after) at once; the first's result, and the second's future."""
    with _first_holds_until_second_writes(first, second), ThreadPoolExecutor(2) as pool:
        one = pool.submit(act_first, first)
        two = pool.submit(act_second, second)
        return one.result(timeout=WAIT), _settled(two)


def _settled(future: Future[T]) -> Future[T]:
    future.exception(timeout=WAIT)
    return future


def _verdicts(catalog: Catalog, sha256: str) -> list[tuple[str, str]]:
    return [(v["actor"], v["verdict"]) for v in catalog.item_decisions(sha256)["verdicts"]]


# -- two analysts decide one item --------------------------------------------------------------
SECOND_DECISIONS: dict[str, Callable[[Catalog, str], object]] = {
    "classify": lambda cat, item: classify(cat, item, Verdict.NOT_ILLEGAL, analyst="bob", reason="adult"),
    "grade": lambda cat, item: decide_item(cat, CONFIG, item, "bob", grading(age_group="adult", depiction="real")),
    "set by hand": lambda cat, item: set_by_hand(cat, CONFIG, item, Verdict.NOT_ILLEGAL, "sam", "adult"),
}


@pytest.mark.parametrize("path", SECOND_DECISIONS)
def test_two_analysts_deciding_one_item_the_second_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog], path: str
) -> None:
    (item,) = _items(catalog, 1)
    first, second = writers
    _, refused = _race(first, lambda cat: decide_item(cat, CONFIG, item, "ann", BASELINE),
                       second, lambda cat: SECOND_DECISIONS[path](cat, item))
    with pytest.raises(DecidedMeanwhile, match=r"decided meanwhile: baseline by ann at .* \(verdict \d+\)"):
        refused.result()
    assert _verdicts(catalog, item) == [("ann", "baseline")]


def test_a_cluster_decision_on_an_item_decided_meanwhile_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog]
) -> None:
    (item,) = _items(catalog, 1)
    cluster_id = claim_next(catalog, CONFIG, "ann")
    assert cluster_id is not None and catalog.cluster(cluster_id).members == (item,)
    first, second = writers
    _, refused = _race(first, lambda cat: classify(cat, item, Verdict.NOT_ILLEGAL, analyst="bob"),
                       second, lambda cat: decide_cluster(cat, CONFIG, cluster_id, "ann", BASELINE))
    with pytest.raises(DecidedMeanwhile, match="decided meanwhile: not-illegal by bob"):
        refused.result()
    assert _verdicts(catalog, item) == [("bob", "not-illegal")]


def test_an_item_decided_in_its_cluster_meanwhile_refuses_the_command_line(
    catalog: Catalog, writers: tuple[Catalog, Catalog]
) -> None:
    (item,) = _items(catalog, 1)
    cluster_id = claim_next(catalog, CONFIG, "ann")
    assert cluster_id is not None
    first, second = writers
    _, refused = _race(first, lambda cat: decide_cluster(cat, CONFIG, cluster_id, "ann", BASELINE),
                       second, lambda cat: classify(cat, item, Verdict.NOT_ILLEGAL, analyst="bob"))
    with pytest.raises(DecidedMeanwhile, match="decided meanwhile: baseline by ann"):
        refused.result()
    assert _verdicts(catalog, item) == [("ann", "baseline")]


# -- an override over a confirmation or an export it never saw ----------------------------------
def test_an_override_of_a_verdict_confirmed_meanwhile_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog]
) -> None:
    catalog.set_review_rule("four_eyes", True, actor="root")
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)
    (pending,) = catalog.pending_confirmations()
    catalog.record_reveal("sue", item)
    first, second = writers
    _, refused = _race(first, lambda cat: confirm(cat, pending.verdict_id, "sue"),
                       second, lambda cat: set_by_hand(cat, CONFIG, item, Verdict.NOT_ILLEGAL, "sam", "adult"))
    with pytest.raises(DecidedMeanwhile, match="was confirmed meanwhile by sue"):
        refused.result()
    assert _verdicts(catalog, item) == [("ann", "baseline")]
    assert [c.sha256 for c in catalog.export_candidates("interpol")] == [item]


def test_an_override_of_a_verdict_exported_meanwhile_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog]
) -> None:
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)
    verdict_id = catalog.item_decisions(item)["verdicts"][-1]["id"]

    def export(cat: Catalog) -> bool:
        return cat.record_export(bundle_id="b" * 32, destination="interpol", location="drop", recipients=[],
                                 sha256="0" * 64, size=1, items=[(item, verdict_id)], actor="t")

    first, second = writers
    _, refused = _race(first, export, second,
                       lambda cat: set_by_hand(cat, CONFIG, item, Verdict.NOT_ILLEGAL, "sam", "adult"))
    with pytest.raises(DecidedMeanwhile, match="was exported meanwhile, to interpol"):
        refused.result()
    assert _verdicts(catalog, item) == [("ann", "baseline")]


# -- the four-eyes rule switched on meanwhile ------------------------------------------------------
@pytest.mark.parametrize("path", ["classify", "grade", "cluster"])
def test_a_decision_under_a_rule_switched_meanwhile_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog], path: str
) -> None:
    (item,) = _items(catalog, 1)
    cluster_id = claim_next(catalog, CONFIG, "ann")
    decisions: dict[str, Callable[[Catalog], object]] = {
        "classify": lambda cat: classify(cat, item, Verdict.BASELINE, analyst="ann"),
        "grade": lambda cat: decide_item(cat, CONFIG, item, "ann", BASELINE),
        "cluster": lambda cat: decide_cluster(cat, CONFIG, cluster_id, "ann", BASELINE),  # type: ignore[arg-type]
    }
    first, second = writers
    _, refused = _race(first, lambda cat: cat.set_review_rule("four_eyes", True, actor="root"),
                       second, decisions[path])
    with pytest.raises(RulesChanged, match="four_eyes is now on"):
        refused.result()
    assert _verdicts(catalog, item) == []
    decisions[path](catalog)  # decided again, under the rule in force
    assert [p.sha256 for p in catalog.pending_confirmations()] == [item]
    assert catalog.export_candidates("interpol") == []


# -- a confirmation of a verdict replaced meanwhile ------------------------------------------------
def test_a_confirmation_of_a_verdict_replaced_meanwhile_is_refused(
    catalog: Catalog, writers: tuple[Catalog, Catalog]
) -> None:
    catalog.set_review_rule("four_eyes", True, actor="root")
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)
    (pending,) = catalog.pending_confirmations()
    catalog.record_reveal("sue", item)
    first, second = writers
    _, refused = _race(first, lambda cat: set_by_hand(cat, CONFIG, item, Verdict.NATIONAL, "sam", "drawn"),
                       second, lambda cat: confirm(cat, pending.verdict_id, "sue"))
    with pytest.raises(DecidedMeanwhile, match=f"verdict {pending.verdict_id} is no longer current: .* national by sam"):
        refused.result()
    assert all(v["confirmed_by"] is None for v in catalog.item_decisions(item)["verdicts"])


def test_two_seniors_confirming_at_once_confirm_once(catalog: Catalog, writers: tuple[Catalog, Catalog]) -> None:
    add_people(catalog, sid="senior")
    catalog.set_review_rule("four_eyes", True, actor="root")
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)
    (pending,) = catalog.pending_confirmations()
    for senior in ("sue", "sid"):
        catalog.record_reveal(senior, item)
    first, second = writers
    _, refused = _race(first, lambda cat: confirm(cat, pending.verdict_id, "sue"),
                       second, lambda cat: confirm(cat, pending.verdict_id, "sid"))
    with pytest.raises(Exception, match="confirmed already, by sue"):
        refused.result()
    assert [v["confirmed_by"] for v in catalog.item_decisions(item)["verdicts"]] == ["sue"]


# -- what the analyst is told ---------------------------------------------------------------------
def test_the_command_line_says_so_in_one_line_and_exits_1(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hotline.services.identity
    from hotline.cli import app
    from hotline.services.identity import TOKEN_LIFETIME, token_hash

    cat = installation.catalog
    reviewers(cat)
    (item,) = _items(cat, 1)
    cat.start_cli_token("bob", token_hash("bobs-token"), TOKEN_LIFETIME)
    # the command line writes when it looks its login up: the first writer starts after that
    logged_in = threading.Event()
    real_require_user = hotline.services.identity.require_user

    def require_user(*args: Any, **kwargs: Any) -> Any:
        user = real_require_user(*args, **kwargs)
        logged_in.set()
        return user

    def ann_decides(first: Catalog) -> int:
        assert logged_in.wait(WAIT)
        return decide_item(first, CONFIG, item, "ann", BASELINE)

    monkeypatch.setattr(hotline.services.identity, "require_user", require_user)
    first = Catalog(installation.settings.catalog)
    with _first_holds_until_second_writes(first, Catalog, "record_verdict", "override_verdict"), \
            ThreadPoolExecutor(1) as pool:
        ann = pool.submit(ann_decides, first)
        done = CliRunner().invoke(app, ["classify", item[:12], "--verdict", "not-illegal"],
                                  env={"HOTLINE_TOKEN": "bobs-token"})
        ann.result(timeout=WAIT)
    first.dispose()
    assert done.exit_code == 1
    assert "decided meanwhile: baseline by ann" in done.stderr and "Traceback" not in done.output
    assert len(done.stderr.strip().splitlines()) == 1
    assert _verdicts(cat, item) == [("ann", "baseline")]


def _login(url: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    page = client.post("/login", data={"name": name, "password": "correct horse battery", "csrf": token})
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def _hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]


def test_the_review_app_tells_the_analyst_who_decided_meanwhile(tmp_path: Path) -> None:
    inst = Installation.init(Settings(data_dir=tmp_path / "data"))
    cat = inst.catalog
    add_people(cat, bob="analyst", sue="senior")
    password = hash_password("correct horse battery")
    for name, role in (("ann", "analyst"), ("sam", "senior")):
        cat.add_user(name, role, password, actor="root")
    assert cat.password_hash("bob") == NO_LOGIN  # bob and sue decide through the library, not the app
    in_cluster, on_item_page = _items(cat, 2)
    with running(create_app(inst), unused_port()) as url:
        ann, csrf = _login(url, "ann")
        cluster = ann.post("/queue/next", data={"csrf": csrf})
        assert in_cluster in cluster.text or on_item_page in cluster.text
        shown = _hidden(cluster.text, "items")
        decided = shown.split(",")[0]
        classify(cat, decided, Verdict.NOT_ILLEGAL, analyst="bob")  # meanwhile, on the command line
        refused = ann.post(f"{cluster.url.path}/decide", data={
            "csrf": csrf, "items": shown, "age_group": "prepubescent", "depiction": "real", "sexual_activity": "1"})
        assert refused.status_code == 409
        assert "decided meanwhile: not-illegal by bob" in refused.text and "Reload the page" in refused.text
        assert _verdicts(cat, decided) == [("bob", "not-illegal")]

        other = on_item_page if decided == in_cluster else in_cluster
        sam, csrf = _login(url, "sam")
        page = sam.get(f"/item/{other}")
        seen = _hidden(page.text, "seen")
        assert seen == "-"
        set_by_hand(cat, CONFIG, other, Verdict.NATIONAL, "sue", "drawn, per the case file")  # meanwhile
        refused = sam.post(f"/item/{other}/override", data={
            "csrf": csrf, "seen": seen, "verdict": "not-illegal", "reason": "an adult"})
        assert refused.status_code == 409 and "decided meanwhile: national by sue" in refused.text
        assert _verdicts(cat, other) == [("sue", "national")]
        page = sam.get(f"/item/{other}")  # reloaded: sam sees sue's verdict and decides on it
        done = sam.post(f"/item/{other}/override", data={
            "csrf": csrf, "seen": _hidden(page.text, "seen"), "verdict": "not-illegal", "reason": "an adult"})
        assert done.status_code == 200 and _verdicts(cat, other) == [("sue", "national"), ("sam", "not-illegal")]
    inst.close()

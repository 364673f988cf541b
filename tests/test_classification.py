"""The classification schema, law profiles and derived verdicts; clustering, leases,
four-eyes and recomputation over a real catalog (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from people import reviewers

from catalog.catalog import Catalog
from catalog.decisions.records import ClusterCandidate, Verdict
from catalog.errors import InvalidState
from catalog.known_sets.records import MatchRecord
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import (
    ClusteringConfig,
    ReviewConfig,
    claim_next,
    classify,
    confirm,
    decide,
    decide_cluster,
    decide_item,
    grading,
    load_profile,
    load_profile_set,
    recompute,
    triage,
)
from classification.cluster_index import PdqIndex, WordIndex
from classification.clusters import pdq_distances, pdq_matrix, plan_clusters
from classification.errors import InvalidGrading, LeaseLost, NotAllowed, ProfileError, UnknownJurisdiction
from classification.profiles import SHIPPED, available_profiles
from classification.review import profiles_changed, set_by_hand, split_item

PROFILES = load_profile_set("XX", ["DE", "GB", "NL", "US"])
BASELINE = dict(age_group="prepubescent", depiction="real", sexual_activity=True)


# -- schema ------------------------------------------------------------------------------
def test_grading_normalises_words_and_implies_severity() -> None:
    g = grading(age_group="Infant_Toddler", depiction="AI-Generated", genders="male, female", genital_focus="yes",
                tags="Studio; series-7")
    assert (g.age_group, g.depiction, g.genders) == ("infant-toddler", "ai-generated", ("female", "male"))
    assert g.genital_focus and not g.sexual_activity and g.severity == 2 and g.self_generated is None
    assert g.tags == ("series-7", "studio")
    assert grading(age_group="adult", depiction="real").genders == ("unclear",)


@pytest.mark.parametrize("bad", [
    dict(age_group="teen", depiction="real"),
    dict(age_group="adult", depiction="photo"),
    dict(age_group="adult", depiction="real", genders="robot"),
    dict(age_group="adult", depiction="real", severity=7),
    dict(age_group="adult", depiction="real", sexual_activity="maybe"),
    dict(age_group="adult", depiction="real", sexual_activity=True, severity=1),
])
def test_grading_refuses_values_outside_the_schema(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidGrading):
        grading(**bad)  # type: ignore[arg-type]


# -- verdict mapping -----------------------------------------------------------------------
@pytest.mark.parametrize("attrs, interpol, xx, de, gb, nl, us, main", [
    (BASELINE, True, True, True, True, True, True, Verdict.BASELINE),
    (dict(age_group="infant-toddler", depiction="real", genital_focus=True), True, True, True, True, True, True,
     Verdict.BASELINE),
    # pubescent: not baseline, illegal nationally
    (dict(age_group="pubescent", depiction="real", sexual_activity=True), False, True, True, True, True, True,
     Verdict.NATIONAL),
    # not a real child: never baseline; realistic AI pictures illegal where the law says so
    (dict(age_group="prepubescent", depiction="ai-generated", sexual_activity=True), False, True, True, True, True,
     True, Verdict.NATIONAL),
    # drawings: only GB's s62 profile catches them
    (dict(age_group="prepubescent", depiction="drawn", sexual_activity=True), False, False, False, True, False, False,
     Verdict.NOT_ILLEGAL),
    # posing without activity or focus: GB's "indecent" (severity 1) only
    (dict(age_group="pubescent", depiction="real", severity=1), False, False, False, True, False, False,
     Verdict.NOT_ILLEGAL),
    # unclear age is never baseline, nor "not illegal": a senior decides
    (dict(age_group="unclear", depiction="real", sexual_activity=True), False, False, False, False, False, False,
     Verdict.UNDETERMINED),
    (dict(age_group="adult", depiction="real", sexual_activity=True, severity=3), False, False, False, False, False,
     False, Verdict.NOT_ILLEGAL),
])
def test_one_grading_gives_every_jurisdiction_its_verdict(
    attrs: dict[str, object], interpol: bool, xx: bool, de: bool, gb: bool, nl: bool, us: bool, main: Verdict
) -> None:
    d = decide("a" * 64, grading(**attrs), PROFILES)  # type: ignore[arg-type]
    got = {j.jurisdiction: j.illegal for j in d.jurisdictions}
    assert got == {"INTERPOL": interpol, "XX": xx, "DE": de, "GB": gb, "NL": nl, "US": us}
    assert d.verdict is main and not d.overridden and not d.confirm_required


def test_home_country_decides_the_national_verdict() -> None:
    drawn = grading(age_group="prepubescent", depiction="drawn", sexual_activity=True)
    assert decide("a" * 64, drawn, load_profile_set("GB")).verdict is Verdict.NATIONAL
    assert decide("a" * 64, drawn, load_profile_set("DE")).verdict is Verdict.NOT_ILLEGAL


def test_verdict_by_hand_needs_a_reason_and_four_eyes_marks_exportable_ones() -> None:
    g = grading(age_group="adult", depiction="real")
    with pytest.raises(InvalidGrading, match="needs a reason"):
        decide("a" * 64, g, PROFILES, verdict=Verdict.NATIONAL)
    d = decide("a" * 64, g, PROFILES, verdict=Verdict.NATIONAL, reason="court ruling 12/2026", four_eyes=True)
    assert d.overridden and d.reason == "court ruling 12/2026" and d.confirm_required
    assert not decide("a" * 64, g, PROFILES, four_eyes=True).confirm_required  # not-illegal needs no second look
    same = decide("a" * 64, grading(**BASELINE), PROFILES, verdict=Verdict.BASELINE)  # type: ignore[arg-type]
    assert not same.overridden


# -- profiles ------------------------------------------------------------------------------
def test_shipped_profiles_load_and_name_their_rules() -> None:
    found = available_profiles()
    assert {"INTERPOL", "XX", "DE", "GB", "NL", "US"} <= set(found)
    assert all(p.rules and len(p.sha256) == 64 for p in found.values())
    assert PROFILES.baseline.evaluate(grading(**BASELINE)).rule.startswith("baseline")  # type: ignore[arg-type, union-attr]


@pytest.mark.parametrize("body, message", [
    ('jurisdiction = "de"\n', "jurisdiction"),
    ('jurisdiction = "ZZ"\ncolour = "red"\n', "unknown key"),
    ('jurisdiction = "ZZ"\n[[rules]]\nname = "r"\nverdict = "maybe"\n', "rule 1: verdict"),
    ('jurisdiction = "ZZ"\n[[rules]]\nname = "r"\nverdict = "illegal"\nage_group = ["teen"]\n', "unknown value"),
    ('jurisdiction = "ZZ"\n[[rules]]\nname = "r"\nverdict = "illegal"\nany = ["severity"]\n', "any must"),
    ('jurisdiction = "ZZ"\n[[rules]]\nverdict = "illegal"\n', "needs a name"),
    ('jurisdiction = "ZZ"\n[[rules]]\nname = "r"\nverdict = "illegal"\nmin_severity = 9\n', "min_severity"),
    ('jurisdiction = "ZZ"\n[[rules]\n', "cannot read"),
])
def test_bad_profiles_are_refused_with_the_place_at_fault(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "zz.toml"
    path.write_text(body)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_installation_profiles_add_and_replace_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "zz.toml").write_text(
        'jurisdiction = "ZZ"\nname = "Zedland"\ndefault = "not-illegal"\n'
        '[[rules]]\nname = "any depiction of a minor, sexual"\nverdict = "illegal"\n'
        'age_group = ["infant-toddler", "prepubescent", "pubescent"]\nany = ["sexual_activity", "genital_focus"]\n')
    profiles = load_profile_set("ZZ", folders=[tmp_path])
    drawn = grading(age_group="pubescent", depiction="drawn", sexual_activity=True)
    assert decide("a" * 64, drawn, profiles).verdict is Verdict.NATIONAL
    (tmp_path / "de.toml").write_text((SHIPPED / "de.toml").read_text().replace('name = "Germany', 'name = "Local DE'))
    assert load_profile_set("DE", folders=[tmp_path]).home.name.startswith("Local DE")
    with pytest.raises(UnknownJurisdiction, match="docs/classification.md"):
        load_profile_set("FR")


# -- clustering (pure) ---------------------------------------------------------------------
def _pdq(rng: random.Random) -> str:
    return bytes(rng.randrange(256) for _ in range(32)).hex()


def _flip(pdq: str, bits: int) -> str:
    raw = bytearray.fromhex(pdq)
    for i in range(bits):
        raw[i // 8] ^= 1 << (i % 8)
    return raw.hex()


def test_pdq_distance_is_the_hamming_distance() -> None:
    a = "f" * 64
    assert list(pdq_distances(a, pdq_matrix([a, _flip(a, 5), "0" * 64]))) == [0, 5, 256]


def test_plan_groups_near_duplicates_and_marks_content_seen_before() -> None:
    from datetime import datetime

    rng = random.Random(7)
    a, b, decided = _pdq(rng), _pdq(rng), _pdq(rng)
    now = datetime(2026, 1, 1)
    items = [ClusterCandidate(f"{i:064x}", "image", sig, now, None) for i, sig in enumerate(
        [a, _flip(a, 10), _flip(a, 30), b, _flip(decided, 4), None, _flip(a, 80)])]
    plans = plan_clusters(items, [], [("d" * 64, decided)], ClusteringConfig(pdq_threshold=31))
    groups = sorted(sorted(s for s, _ in p.members) for p in plans)
    assert [len(g) for g in sorted(groups, key=len)] == [1, 1, 1, 1, 3]  # a + 2 near copies; 80 bits is too far from each
    seen = next(p for p in plans if p.representative == items[4].sha256)
    assert not seen.novel and seen.similar_to == "d" * 64
    assert all(p.novel for p in plans if p is not seen)
    joined = plan_clusters([ClusterCandidate("e" * 64, "image", _flip(b, 3), now, None)], [(42, "image", b, "f" * 64)], [])
    assert joined[0].cluster_id == 42 and joined[0].members == (("e" * 64, 3),)


# -- the queue over a catalog ------------------------------------------------------------------
@pytest.fixture
def catalog(catalog_url: str) -> Catalog:
    cat = Catalog(catalog_url)
    cat.migrate()
    yield cat
    cat.dispose()


def _queue(catalog: Catalog, groups: list[int], seed: int = 3,
           clustering: ClusteringConfig | None = None) -> list[list[str]]:
    """Queued items in near-duplicate groups of the given sizes (one report); returns the groups."""
    rng = random.Random(seed)
    out, media, seen, hashes = [], [], [], []
    for g, size in enumerate(groups):
        base = _pdq(rng)
        members = [hashlib.sha256(f"{seed}-{g}-{i}".encode()).hexdigest() for i in range(size)]
        out.append(members)
        for i, sha in enumerate(members):
            media.append(MediaRecord(sha, 100, "image/jpeg"))
            seen.append(SightingRecord(sha, f"http://site.test/{sha[:8]}.jpg", "http://site.test/", country="NL"))
            hashes.append(HashRecord(sha, "pdq", _flip(base, 2 * i), 90))
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult(url="http://site.test/", media=tuple(media), sightings=tuple(seen)))
    catalog.record_hashes(hashes)
    triage(catalog, [m.sha256 for m in media], [], clustering or ClusteringConfig())
    return out


def test_the_queue_clustered_in_small_batches_groups_as_in_one(catalog: Catalog) -> None:
    groups = _queue(catalog, [4, 3, 1, 5, 2], clustering=ClusteringConfig(batch=2))
    made = sorted(sorted(m.sha256 for m in catalog.cluster_members(c.id)) for c in catalog.queue_clusters())
    assert made == sorted(sorted(g) for g in groups)


def test_queue_clusters_leases_and_a_decision_for_the_whole_cluster(catalog: Catalog) -> None:
    reviewers(catalog)
    _queue(catalog, [3, 2, 1])
    config = ReviewConfig(profiles=PROFILES, lease=timedelta(minutes=5))
    shown = catalog.queue_clusters()
    assert sorted(c.items for c in shown) == [1, 2, 3] and catalog.queue_counts()["clusters"] == 3
    first = claim_next(catalog, config, "ann")
    second = claim_next(catalog, config, "bob")
    assert first and second and first != second  # never the same cluster twice
    with pytest.raises(LeaseLost):
        decide_cluster(catalog, config, first, "bob", grading(**BASELINE))  # type: ignore[arg-type]
    members = [m.sha256 for m in catalog.cluster_members(first)]
    ids = decide_cluster(catalog, config, first, "ann", grading(**BASELINE))  # type: ignore[arg-type]
    assert len(ids) == len(members)
    outcomes = {o.sha256: o for o in catalog.outcomes([1])}
    assert {outcomes[s].verdict for s in members} == {Verdict.BASELINE}
    assert catalog.cluster(first).status == "decided" and catalog.lease_holder(first) is None
    assert first not in {c.id for c in catalog.queue_clusters()}
    actions = [e.action for e in catalog.audit_entries(limit=500)]
    assert actions.count("verdict.record") == len(members) and "cluster.claim" in actions
    history = catalog.item_decisions(members[0])
    assert {j["jurisdiction"] for j in history["jurisdictions"]} == {"INTERPOL", "XX", "DE", "GB", "NL", "US"}
    assert history["gradings"][0]["age_group"] == "prepubescent"


def test_an_expired_lease_frees_the_cluster(catalog: Catalog) -> None:
    reviewers(catalog)
    _queue(catalog, [2])
    short = ReviewConfig(profiles=PROFILES, lease=timedelta(seconds=-1))  # expired as soon as taken
    cluster_id = claim_next(catalog, short, "ann")
    assert claim_next(catalog, ReviewConfig(profiles=PROFILES), "bob") == cluster_id
    with pytest.raises(LeaseLost):
        decide_cluster(catalog, short, cluster_id, "ann", grading(age_group="adult", depiction="real"))  # type: ignore[arg-type]


def test_split_moves_an_item_into_its_own_cluster(catalog: Catalog) -> None:
    reviewers(catalog)
    _queue(catalog, [3])
    config = ReviewConfig(profiles=PROFILES)
    cluster_id = claim_next(catalog, config, "ann")
    assert cluster_id is not None
    odd = catalog.cluster_members(cluster_id)[-1].sha256
    new_id = split_item(catalog, cluster_id, odd, "ann")
    decide_cluster(catalog, config, cluster_id, "ann", grading(age_group="adult", depiction="real"))
    assert [c.id for c in catalog.queue_clusters()] == [new_id]
    assert catalog.cluster(new_id).members == (odd,)
    assert "cluster.split" in [e.action for e in catalog.audit_entries()]


def test_four_eyes_keeps_unconfirmed_verdicts_from_export(catalog: Catalog) -> None:
    reviewers(catalog)
    catalog.set_review_rule("four_eyes", True, actor="root")
    (group,) = _queue(catalog, [2])
    config = ReviewConfig(profiles=PROFILES)
    cluster_id = claim_next(catalog, config, "ann")
    ids = decide_cluster(catalog, config, cluster_id, "ann", grading(**BASELINE))  # type: ignore[arg-type]
    assert catalog.export_candidates("interpol") == []
    assert [p.verdict_id for p in catalog.pending_confirmations()] == ids
    with pytest.raises(NotAllowed, match="only senior"):
        confirm(catalog, ids[0], "bob")
    with pytest.raises(NotAllowed, match="no active user"):
        confirm(catalog, ids[0], "dave")  # a name is not a user
    with pytest.raises(NotAllowed, match="reveal"):
        confirm(catalog, ids[0], "sam")
    catalog.record_reveal("sam", group[0])
    confirm(catalog, ids[0], "sam")
    catalog.record_reveal("sue", group[0])
    with pytest.raises(NotAllowed, match="already"):
        confirm(catalog, ids[0], "sue")
    assert [c.verdict_id for c in catalog.export_candidates("interpol")] == [ids[0]]
    assert "verdict.confirm" in [e.action for e in catalog.audit_entries()]


def test_a_disagreeing_override_goes_to_a_third_reviewer(catalog: Catalog) -> None:
    reviewers(catalog)
    catalog.set_review_rule("four_eyes", True, actor="root")
    (items,) = _queue(catalog, [1])
    config = ReviewConfig(profiles=PROFILES)
    decide_item(catalog, config, items[0], "ann", grading(age_group="adult", depiction="real"))
    set_by_hand(catalog, config, items[0], Verdict.NATIONAL, "sam", "the person is 16, per the case file")
    assert catalog.export_candidates("interpol") == []  # ann and sam disagree: neither decides alone
    entry = next(e for e in catalog.audit_entries() if e.action == "verdict.override")
    assert entry.actor == "sam" and entry.detail["reason"] == "the person is 16, per the case file"
    (pending,) = catalog.pending_confirmations()
    catalog.record_reveal("sam", items[0])
    with pytest.raises(NotAllowed, match="graded or decided"):
        confirm(catalog, pending.verdict_id, "sam")
    catalog.record_reveal("sue", items[0])
    confirm(catalog, pending.verdict_id, "sue")  # the third reviewer
    assert [c.sha256 for c in catalog.export_candidates("interpol")] == items


def test_recompute_follows_a_changed_profile_but_exported_and_hand_set_verdicts_stay(
    catalog: Catalog, tmp_path: Path
) -> None:
    reviewers(catalog)
    a, b, c = _queue(catalog, [1, 1, 1])
    drawn = grading(age_group="prepubescent", depiction="drawn", sexual_activity=True)
    config = ReviewConfig(profiles=load_profile_set("XX", folders=[tmp_path]))
    for item in (a, b, c):
        decide_item(catalog, config, item[0], "ann", drawn)
    set_by_hand(catalog, config, c[0], Verdict.NOT_ILLEGAL, "sam", "reviewed with counsel")
    catalog.record_export(bundle_id="f" * 32, destination="interpol", location="drop", recipients=[], sha256="0" * 64,
                          size=1, items=[(b[0], catalog.item_decisions(b[0])["verdicts"][-1]["id"])], actor="t")
    assert not profiles_changed(catalog, config)
    assert recompute(catalog, config, "admin").verdict_changes == 0  # nothing changed: nothing recorded
    # the law changes: XX now covers drawings too
    (tmp_path / "xx.toml").write_text((SHIPPED / "xx.toml").read_text().replace(
        'depiction = ["real", "cgi", "ai-generated"]', 'depiction = ["real", "cgi", "ai-generated", "drawn"]'))
    changed = ReviewConfig(profiles=load_profile_set("XX", folders=[tmp_path]))
    assert profiles_changed(catalog, changed)
    assert profiles_changed(catalog, ReviewConfig(profiles=load_profile_set("XX", ["NL"], folders=[tmp_path])))
    summary = recompute(catalog, changed, "admin")
    assert not profiles_changed(catalog, changed)
    assert (summary.verdict_changes, summary.kept_exported, summary.kept_by_hand) == (1, 1, 1)
    current = {o.sha256: o.verdict for o in catalog.outcomes([1, 2, 3])}
    assert current == {a[0]: Verdict.NATIONAL, b[0]: Verdict.NOT_ILLEGAL, c[0]: Verdict.NOT_ILLEGAL}
    xx = [j for j in catalog.item_decisions(b[0])["jurisdictions"] if j["jurisdiction"] == "XX"]
    assert [j["illegal"] for j in xx] == [False, True]  # the jurisdiction verdict follows the law
    assert recompute(catalog, changed, "admin") == type(summary)(3, 0, 0, 1, 1)


def test_cli_path_and_known_sets_keep_the_cluster_counts_right(catalog: Catalog) -> None:
    reviewers(catalog)
    (group,) = _queue(catalog, [2])
    classify(catalog, group[0], Verdict.NOT_ILLEGAL, analyst="ann")
    assert [c.items for c in catalog.queue_clusters()] == [1]
    catalog.record_matches([MatchRecord(group[1], "set-a", "sha256", 0, Verdict.BASELINE)])
    catalog.refresh_open_clusters()
    assert catalog.queue_clusters() == [] and catalog.queue_counts()["spared"] == 1


def test_decisions_refuse_items_outside_the_cluster(catalog: Catalog) -> None:
    reviewers(catalog)
    one, two = _queue(catalog, [1, 1])
    config = ReviewConfig(profiles=PROFILES)
    cluster_id = catalog.cluster_of(one[0])
    claim_next(catalog, config, "ann", cluster_id)
    with pytest.raises(InvalidState, match="not waiting"):
        catalog.record_decisions(cluster_id, "ann", [decide(two[0], grading(**BASELINE), PROFILES)])  # type: ignore[arg-type]


def test_migration_0005_adds_and_removes_its_tables(tmp_path: Path) -> None:
    from alembic import command

    from catalog.db import _alembic_config

    cat = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    cat.migrate()
    mine = {"users", "web_sessions", "clusters", "cluster_members", "cluster_leases", "gradings",
            "jurisdiction_verdicts", "confirmations"}
    assert mine <= set(sa.inspect(cat.engine).get_table_names())
    cfg = _alembic_config()
    with cat.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005@0001")
        conn.commit()
    inspector = sa.inspect(cat.engine)
    assert not mine & set(inspector.get_table_names())
    assert "confirm_required" not in {c["name"] for c in inspector.get_columns("verdicts")}
    cat.migrate()
    assert mine <= set(sa.inspect(cat.engine).get_table_names())
    cat.dispose()


def test_videos_join_by_vpdq_over_their_frame_hashes(catalog: Catalog) -> None:
    from catalog.media_items.records import FrameHashRecord
    from classification.clusters import vpdq_distance

    rng = random.Random(11)
    scenes = [_pdq(rng) for _ in range(6)]
    other = [_pdq(rng) for _ in range(6)]
    clips = {  # a clip, the same clip re-encoded (frames a few bits off, one frame dropped), another clip
        "a" * 64: scenes,
        "b" * 64: [_flip(p, 6) for p in scenes[:5]],
        "c" * 64: other,
    }
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult(
        url="http://site.test/", media=tuple(MediaRecord(s, 1000, "video/mp4", "video") for s in clips),
        sightings=tuple(SightingRecord(s, f"http://site.test/{s[:4]}.mp4", "http://site.test/") for s in clips)))
    catalog.record_hashes([HashRecord(s, "md5", s[:32]) for s in clips],
                          frames=[FrameHashRecord(s, i, float(i), p, 90) for s, ps in clips.items()
                                  for i, p in enumerate(ps)])
    triage(catalog, list(clips), [])
    groups = sorted(sorted(c.members) for c in catalog.queue_clusters())
    assert groups == [["a" * 64, "b" * 64], ["c" * 64]]
    as_pairs = {s: [(p, 90) for p in ps] for s, ps in clips.items()}
    # b, shorter by one dropped frame, matches a in every frame: by the shorter clip, distance 0
    assert vpdq_distance(as_pairs["a" * 64], as_pairs["b" * 64], threshold=31, min_quality=50, share=0.8) == 0
    assert vpdq_distance(as_pairs["b" * 64], as_pairs["a" * 64][:3], threshold=31, min_quality=50,
                         share=0.8) == 0  # an excerpt (the first three scenes) joins its source
    assert vpdq_distance(as_pairs["a" * 64], as_pairs["c" * 64], threshold=31, min_quality=50, share=0.8) is None
    from hashing.frames import FrameHash, compare_frames  # the same measure as hashing's

    theirs = compare_frames(*[[FrameHash(float(i), p, 90) for i, p in enumerate(clips[s])] for s in ("a" * 64, "b" * 64)])
    assert theirs.matches() and theirs.distance == 0


def test_the_pdq_index_finds_what_a_comparison_with_every_hash_finds() -> None:
    # more hashes than a 16-bit word has values, so buckets hold several and the
    # buffered and sorted parts of the index are both searched
    rng = random.Random(5)
    hashes: list[bytes] = []
    index = PdqIndex()
    for n in range(20_000):
        raw = rng.randbytes(32) if n % 2 == 0 else bytes(b ^ (1 << rng.randrange(8) if rng.random() < 0.08 else 0)
                                                         for b in hashes[-1])
        hashes.append(raw)
        index.add(n, raw.hex())
    table = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
    for _ in range(200):
        # 31 bits away: one 16-bit word differs in one bit, the others in two, so only the
        # one-bit neighbour of that word can find it
        bits = [16 * w + b for w in range(16) for b in rng.sample(range(16), 1 if w == 0 else 2)]
        flips = np.packbits(np.isin(np.arange(256), bits))
        near = (np.frombuffer(hashes[rng.randrange(len(hashes))], dtype=np.uint8) ^ flips).tobytes()
        queries = [rng.randbytes(32).hex(), near.hex()]
        # every hash compared with every query
        distances = [pdq_distances(q, table) for q in queries]
        expected = min(((int(d[row]), which, row) for which, d in enumerate(distances) for row in np.flatnonzero(d <= 31)),
                       default=None)
        found = index.nearest(queries, 31)
        assert found == (None if expected is None else (expected[2], expected[0], expected[1]))


def test_the_pdq_index_finds_exactly_the_pairs_a_comparison_with_every_hash_finds() -> None:
    # enough hashes that the index seals its table several times and chains the newest
    rng = np.random.default_rng(8)
    table = rng.integers(0, 256, size=(12_000, 32), dtype=np.uint8)
    index = PdqIndex()
    for n, row in enumerate(table):
        index.add(n, row.tobytes().hex())
    withdrawn = {int(n) for n in rng.choice(len(table), 300, replace=False)}
    for n in withdrawn:
        index.discard(n)
    queries = []
    for q in range(400):
        near = table[rng.integers(len(table))].copy()
        # up to 40 bits away; a third spread one bit in one word and two in every other
        # (31: only the one-bit neighbour of one word can find it)
        bits = ([16 * w + int(b) for w in range(16) for b in rng.choice(16, 1 if w == 0 else 2, replace=False)]
                if q % 3 == 0 else rng.choice(256, int(rng.integers(0, 41)), replace=False))
        near ^= np.packbits(np.isin(np.arange(256), bits))
        queries.append(near.tobytes().hex())
    queries.append(rng.bytes(32).hex())
    rows, which, distances = index.within(queries, 31)
    found = {(int(r), int(q), int(d)) for r, q, d in zip(rows, which, distances, strict=True)}
    expected = {(int(r), q, int(d[r])) for q, query in enumerate(queries)
                for d in [pdq_distances(query, table)] for r in np.flatnonzero(d <= 31) if int(r) not in withdrawn}
    assert found == expected and len(expected) > 200
    assert {d for _, _, d in found} >= {0, 31}
    with pytest.raises(ValueError, match="within 31"):
        index.within(queries, 32)


def test_one_clustering_run_files_each_batch_for_the_next() -> None:
    from datetime import datetime

    from classification.clusters import Clustering

    rng = random.Random(9)
    a, b = _pdq(rng), _pdq(rng)
    now = datetime(2026, 1, 1)

    def item(n: int, pdq: str) -> ClusterCandidate:
        return ClusterCandidate(f"{n:064x}", "image", pdq, now, None)

    run = Clustering([(7, "image", a, "f" * 64)], [], ClusteringConfig())
    assert [p.cluster_id for p in run.plan([item(1, _flip(a, 3))])] == [7]
    run.settle({})
    first = run.plan([item(2, b)])  # founds a cluster, which the catalog stores as 99
    assert first[0].cluster_id is None and first[0].representative == item(2, b).sha256
    run.settle({item(2, b).sha256: 99})
    assert [p.cluster_id for p in run.plan([item(3, _flip(b, 5))])] == [99]
    run.settle({})
    run.keep_open({99})  # cluster 7 was decided meanwhile: a copy of a no longer joins it
    again = run.plan([item(4, _flip(a, 6))])
    assert again[0].cluster_id is None
    run.settle({})  # not stored (its item was placed by another run): no later item may join it
    assert run.plan([item(5, _flip(a, 7))])[0].cluster_id is None


def test_the_word_index_ranks_the_picture_sharing_descriptors_first() -> None:
    rng = random.Random(6)
    index = WordIndex()
    pictures = [rng.randbytes(32 * 160) for _ in range(3000)]
    for n, descriptors in enumerate(pictures):
        index.add(n, descriptors)
    for n in (0, 1234, 2999):
        # a third of the descriptors kept, with their later bytes changed; the rest new
        kept = b"".join(pictures[n][i:i + 8] + rng.randbytes(24) for i in range(0, 32 * 160, 96))
        query = kept + rng.randbytes(32 * 160 - len(kept))
        assert index.ranked(query, limit=4) == [n]
    assert index.ranked(rng.randbytes(32 * 160)) == []
    index.discard(1234)  # withdrawn (its cluster was decided): never ranked again
    assert index.ranked(pictures[1234]) == [] and index.ranked(pictures[2999]) == [2999]


def test_the_word_index_finds_exactly_what_a_dictionary_of_its_keys_finds() -> None:
    from classification.cluster_index import _Postings

    # 20-bit keys drawn from the lowest 4,096, so they fall in few buckets (several keys of
    # one picture share one, and each bucket holds many keys), over enough rows that the
    # table is sealed (and grown) several times and the newest rows wait in chains
    rng = np.random.default_rng(11)
    postings, filed = _Postings(bits=20), dict[int, list[int]]()
    for row in range(3_000):
        keys = np.unique(rng.integers(0, 1 << 12, size=int(rng.integers(1, 60)))).astype(np.uint32)
        postings.add(keys, row)
        for key in keys.tolist():
            filed.setdefault(key, []).append(row)
        if row % 250 == 0 or row == 2_999:
            query = np.unique(rng.integers(0, 1 << 12, size=40)).astype(np.uint32)
            for most in (None, 25):
                rows, which = postings.lookup(query, most=most)
                found = sorted(zip(which.tolist(), rows.tolist(), strict=True))
                expected = sorted((n, r) for n, key in enumerate(query.tolist()) for r in filed.get(key, [])
                                  if most is None or len(filed[key]) <= most)
                assert found == expected
    assert len(postings._keys) > 0 and postings._chained > 0  # both parts were searched

"""No path to a wrong verdict, no single person as both eyes.

Each test reproduces one way the grading, the four-eyes rule, identity or the law profiles
could be got around, and shows it is closed: a grading that contradicts itself, a process
without the four-eyes rule, a confirmation by someone who graded or never saw the item, a
typed name instead of a user, a silently replaced INTERPOL profile, and an unclear age
group that ended up "not illegal".
"""

from __future__ import annotations

import hashlib
import itertools
import json
import stat
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from people import hotline_cli, reviewers
from pydantic import ValidationError

from catalog.catalog import Catalog
from catalog.decisions.records import GradingRecord, Verdict
from catalog.errors import Forbidden
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import ReviewConfig, classify, confirm, decide_item, grading, load_profile_set, recompute, triage
from classification.attributes import ATTRIBUTE_VALUES, grading_from_form
from classification.derive import main_verdict
from classification.errors import InvalidGrading, NotAllowed, ProfileError
from classification.profiles import SHIPPED, available_profiles, baseline_warning
from classification.review import set_by_hand
from hotline.installation import Installation
from hotline.services.doctor import doctor
from hotline.settings import Settings

PROFILES = load_profile_set("XX", ["DE", "GB", "NL", "US"])
CONFIG = ReviewConfig(profiles=PROFILES)
CHILD = {"infant-toddler", "prepubescent"}
MINOR = CHILD | {"pubescent"}
REALISTIC = {"real", "cgi", "ai-generated"}


# -- 1. a grading cannot contradict itself; every accepted grading meets the documented rules ------
def _sexual(g: GradingRecord) -> bool:
    """Sexual activity or genital focus, as the documents say it: also what severity 2-3 means."""
    return g.sexual_activity or g.genital_focus or g.severity >= 2


DOCUMENTED: dict[str, Callable[[GradingRecord], bool]] = {
    # INTERPOL, as publicly described: a real child, apparently prepubescent, in or witnessing a
    # sexual act, or with the focus on the genital or anal region
    "INTERPOL": lambda g: g.depiction == "real" and g.age_group in CHILD and _sexual(g),
    # the shipped examples, as each file's comment states its law
    "XX": lambda g: g.age_group in MINOR and g.depiction in REALISTIC and _sexual(g),
    "DE": lambda g: g.age_group in MINOR and g.depiction in REALISTIC and _sexual(g),
    "NL": lambda g: g.age_group in MINOR and g.depiction in REALISTIC and _sexual(g),
    "US": lambda g: g.age_group in MINOR and g.depiction in REALISTIC and _sexual(g),
    "GB": lambda g: g.age_group in MINOR and ((g.depiction in REALISTIC and g.severity >= 1)
                                              or (g.depiction == "drawn" and _sexual(g))),
}


def _documented_outcome(code: str, g: GradingRecord) -> str:
    """illegal, undetermined (illegal for some value an unclear age or depiction could have) or not-illegal."""
    if DOCUMENTED[code](g):
        return "illegal"
    ages = [a for a in ATTRIBUTE_VALUES["age_group"] if a != "unclear"] if g.age_group == "unclear" else [g.age_group]
    kinds = [d for d in ATTRIBUTE_VALUES["depiction"] if d != "unclear"] if g.depiction == "unclear" else [g.depiction]
    readings = [GradingRecord(a, g.genders, d, g.sexual_activity, g.genital_focus, g.severity)
                for a in ages for d in kinds]
    return "undetermined" if any(DOCUMENTED[code](r) for r in readings) else "not-illegal"


def _cli_combinations() -> Iterator[dict[str, object]]:
    """Every combination of the options `hotline classify` grades by (severity given or not)."""
    for age, kind, sexual, focus, severity in itertools.product(
            ATTRIBUTE_VALUES["age_group"], ATTRIBUTE_VALUES["depiction"], (False, True), (False, True),
            (None, 0, 1, 2, 3)):
        yield dict(age_group=age, depiction=kind, sexual_activity=sexual, genital_focus=focus, severity=severity)


def test_a_severity_that_contradicts_the_flags_is_refused_everywhere() -> None:
    with pytest.raises(InvalidGrading, match="say which"):
        grading(age_group="prepubescent", depiction="real", severity=3)  # read as "nothing sexual" before
    with pytest.raises(InvalidGrading, match="say which"):  # the web form and imports share the model
        grading_from_form({"age_group": "prepubescent", "depiction": "real", "severity": "2"})
    with pytest.raises(InvalidGrading, match="at least 2"):
        grading(age_group="prepubescent", depiction="real", sexual_activity=True, severity=1)


def test_every_accepted_grading_gets_the_documented_verdict_in_every_shipped_profile() -> None:
    accepted: set[GradingRecord] = set()
    for attrs in _cli_combinations():
        try:
            g = grading(**attrs)  # type: ignore[arg-type]
        except InvalidGrading:
            flagged, high = bool(attrs["sexual_activity"] or attrs["genital_focus"]), (attrs["severity"] or 0) >= 2
            assert attrs["severity"] is not None and flagged != high  # only what contradicts itself
            continue
        assert (g.sexual_activity or g.genital_focus) == (g.severity >= 2)  # severity and flags agree
        accepted.add(g)
    assert len(accepted) == 5 * 5 * 8  # no flag: severity 0 or 1; any of three flag pairs: 2 or 3
    profiles = available_profiles()
    assert set(profiles) == set(DOCUMENTED)  # a new shipped profile needs its documented rule here
    for g in accepted:
        for code, profile in profiles.items():
            found = profile.evaluate(g)
            got = "illegal" if found.illegal else "undetermined" if found.undetermined else "not-illegal"
            assert got == _documented_outcome(code, g), (code, g)
        verdict = main_verdict(PROFILES.evaluate(g), "XX")
        baseline, home = _documented_outcome("INTERPOL", g), _documented_outcome("XX", g)
        expected = (Verdict.BASELINE if baseline == "illegal" else Verdict.UNDETERMINED if baseline == "undetermined"
                    else Verdict.NATIONAL if home == "illegal" else Verdict.UNDETERMINED if home == "undetermined"
                    else Verdict.NOT_ILLEGAL)
        assert verdict is expected, g


# -- helpers over a catalog ------------------------------------------------------------------
@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog(catalog_url)
    cat.migrate()
    reviewers(cat)
    yield cat
    cat.dispose()


def _items(catalog: Catalog, n: int, seed: str = "v") -> list[str]:
    """``n`` items waiting in the review queue."""
    shas = [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n)]
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult(
        url="http://site.test/", media=tuple(MediaRecord(s, 100, "image/jpeg") for s in shas),
        sightings=tuple(SightingRecord(s, f"http://site.test/{s[:8]}.jpg", "http://site.test/", country="NL")
                        for s in shas)))
    catalog.record_hashes([HashRecord(s, "sha256", s) for s in shas])
    triage(catalog, shas, [])
    return shas


BASELINE = grading(age_group="prepubescent", depiction="real", sexual_activity=True)


# -- 2. four-eyes, confirmations and overrides: the catalog's rules, on every path -----------------
def test_four_eyes_is_the_installations_rule_not_a_process_setting(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_FOUR_EYES", "true")
    with pytest.raises(ValidationError, match="hotline rules set four_eyes on"):
        Settings()  # a shell that believes it turns four-eyes on (or off) is told where the rule is
    with pytest.raises(Forbidden, match="only admin"):
        catalog.set_review_rule("four_eyes", True, actor="sam")
    catalog.set_review_rule("four_eyes", True, actor="root")
    assert catalog.audit_entries(action="rules.set")[0].detail == {"value": True, "previous": False}
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)  # any process: the rule comes from the catalog
    assert catalog.export_candidates("interpol") == [] and len(catalog.pending_confirmations()) == 1
    (other,) = _items(catalog, 1, seed="cli")
    classify(catalog, other, Verdict.BASELINE, analyst="ann")  # the verdict-only path as well
    assert catalog.export_candidates("interpol") == [] and len(catalog.pending_confirmations()) == 2


def test_a_confirmation_needs_a_senior_who_neither_graded_nor_decided_and_saw_the_item(catalog: Catalog) -> None:
    catalog.set_review_rule("four_eyes", True, actor="root")
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "sam", BASELINE)  # a senior grades
    (pending,) = catalog.pending_confirmations()
    catalog.record_reveal("sam", item)
    with pytest.raises(NotAllowed, match="graded or decided"):
        confirm(catalog, pending.verdict_id, "sam")
    with pytest.raises(NotAllowed, match="reveal the item"):
        confirm(catalog, pending.verdict_id, "sue")  # never opened it
    catalog.record_reveal("sue", item)
    confirm(catalog, pending.verdict_id, "sue")
    assert [c.sha256 for c in catalog.export_candidates("interpol")] == [item]


def test_overriding_an_exported_or_confirmed_verdict_needs_a_senior_and_a_reason(catalog: Catalog) -> None:
    exported, confirmed = _items(catalog, 2)
    for item in (exported, confirmed):
        decide_item(catalog, CONFIG, item, "ann", BASELINE)
    verdict_id = catalog.item_decisions(exported)["verdicts"][-1]["id"]
    catalog.record_export(bundle_id="e" * 32, destination="interpol", location="drop", recipients=[],
                          sha256="0" * 64, size=1, items=[(exported, verdict_id)], actor="t")
    catalog.set_review_rule("four_eyes", True, actor="root")
    set_by_hand(catalog, CONFIG, confirmed, Verdict.BASELINE, "bob", "second look")
    (pending,) = catalog.pending_confirmations()
    catalog.record_reveal("sue", confirmed)
    confirm(catalog, pending.verdict_id, "sue")
    for item in (exported, confirmed):
        with pytest.raises(NotAllowed, match="only a senior"):
            classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="bob", reason="looks harmless")
        with pytest.raises(NotAllowed, match="needs a reason"):
            classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="sam")
        classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="sam", reason="the case file says adult")
        entry = catalog.audit_entries(action="verdict.override")[0]
        assert (entry.actor, entry.subject, entry.detail["reason"]) == ("sam", item, "the case file says adult")


# -- 3. identity: users, not typed names --------------------------------------------------------
def test_a_name_that_is_no_user_decides_nothing_and_changes_no_one(catalog: Catalog) -> None:
    (item,) = _items(catalog, 1)
    with pytest.raises(NotAllowed, match="no user"):
        classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="dave")
    with pytest.raises(Forbidden):
        catalog.update_user("bob", actor="dave", role="senior")
    with pytest.raises(Forbidden, match="only admin"):
        catalog.update_user("bob", actor="sam", role="senior")  # a senior is no admin
    with pytest.raises(Forbidden, match="only admin may add users"):
        catalog.add_user("eve", "senior", "!", actor="system")  # the operator account adds only the first admin
    catalog.update_user("bob", actor="root", role="senior")
    with pytest.raises(ValueError, match="software acts as"):
        catalog.add_user("system", "senior", "!", actor="root")


def test_replacing_a_grading_with_a_bare_verdict_is_an_audited_override(catalog: Catalog) -> None:
    (item,) = _items(catalog, 1)
    decide_item(catalog, CONFIG, item, "ann", BASELINE)
    with pytest.raises(NotAllowed, match="needs a reason"):
        classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="bob")
    classify(catalog, item, Verdict.NOT_ILLEGAL, analyst="bob", reason="adult, per the ID shown")
    entry = catalog.audit_entries(action="verdict.override")[0]
    assert (entry.actor, entry.detail["previous"], entry.detail["reason"]) == ("bob", "baseline",
                                                                                "adult, per the ID shown")


def test_a_recompute_is_the_systems_and_never_a_confirmation(catalog: Catalog, tmp_path: Path) -> None:
    (item,) = _items(catalog, 1)
    drawn = grading(age_group="prepubescent", depiction="drawn", sexual_activity=True)
    decide_item(catalog, CONFIG, item, "sam", drawn)
    catalog.set_review_rule("four_eyes", True, actor="root")
    (tmp_path / "xx.toml").write_text((SHIPPED / "xx.toml").read_text().replace(
        'depiction = ["real", "cgi", "ai-generated"]', 'depiction = ["real", "cgi", "ai-generated", "drawn"]'))
    assert recompute(catalog, ReviewConfig(profiles=load_profile_set("XX", folders=[tmp_path])),
                     requested_by="root").verdict_changes == 1
    newest = catalog.item_decisions(item)["verdicts"][-1]
    assert (newest["verdict"], newest["actor"], newest["confirm_required"]) == ("national", "system", True)
    assert catalog.audit_entries(action="profiles.recompute")[0].detail["requested_by"] == "root"
    catalog.record_reveal("sam", item)
    with pytest.raises(NotAllowed, match="graded or decided"):
        confirm(catalog, newest["id"], "sam")  # the grader is not a second pair of eyes on their own grading


def test_the_command_line_acts_as_a_logged_in_user_never_a_typed_name(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hotline_cli(data_dir, "init")
    inst = Installation.open(Settings(data_dir=data_dir))
    (item,) = _items(inst.catalog, 1)
    refused = hotline_cli(data_dir, "classify", item[:12], "--verdict", "not-illegal", ok=False, HOTLINE_ANALYST="dave")
    assert "log in first" in refused.stderr and "Traceback" not in refused.stderr
    assert inst.catalog.item_decisions(item)["verdicts"] == []
    password = "correct horse battery\n"
    hotline_cli(data_dir, "user", "add", "root", "--role", "admin", "--password-stdin", stdin=password)
    hotline_cli(data_dir, "login", "root", "--password-stdin", stdin=password)
    hotline_cli(data_dir, "user", "add", "ann", "--role", "analyst", "--password-stdin", stdin=password)
    hotline_cli(data_dir, "rules", "set", "four_eyes", "on")  # the admin's call, for every process
    assert json.loads(hotline_cli(data_dir, "rules", "show", "--json").stdout) == {"four_eyes": True}
    login = json.loads(hotline_cli(data_dir, "login", "ann", "--password-stdin", "--json", stdin=password).stdout)
    token_file = Path(login["token_file"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and token_file.is_relative_to(tmp_path / "config")
    assert "only admin" in hotline_cli(data_dir, "user", "set", "ann", "--role", "senior", ok=False).stderr
    assert "only admin" in hotline_cli(data_dir, "rules", "set", "four_eyes", "off", ok=False).stderr
    graded = json.loads(hotline_cli(data_dir, "classify", item[:12], "--age-group", "prepubescent", "--depiction", "real",
                             "--sexual-activity", "--json").stdout)
    assert (graded["verdict"], graded["analyst"], graded["confirm_required"]) == ("baseline", "ann", True)
    token = token_file.read_text().strip()
    hotline_cli(data_dir, "logout")
    assert not token_file.exists()
    gone = hotline_cli(data_dir, "whoami", ok=False, HOTLINE_TOKEN=token)  # a token ends with its login
    assert "unknown, expired" in gone.stderr
    inst.close()


# -- 4. the INTERPOL profile is pinned ------------------------------------------------------------
def test_an_interpol_profile_in_the_data_directory_is_refused_unless_enabled(tmp_path: Path) -> None:
    profiles = tmp_path / "data" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "interpol.toml").write_text((SHIPPED / "interpol.toml").read_text().replace(
        'depiction = ["real"]', 'depiction = ["real", "drawn", "unclear"]').replace(
        'age_group = ["infant-toddler", "prepubescent"]', 'age_group = ["infant-toddler", "prepubescent", "unclear"]'))
    with pytest.raises(ProfileError, match="pinned"):
        load_profile_set("XX", folders=[profiles])
    inst = Installation.init(Settings(data_dir=tmp_path / "data"))
    assert "pinned" in hotline_cli(tmp_path / "data", "profile", "list", ok=False).stderr
    listed = json.loads(hotline_cli(tmp_path / "data", "profile", "list", "--json",
                                    HOTLINE_ALLOW_INTERPOL_PROFILE="true").stdout)
    assert "not from the shipped profile" in next(p["warning"] for p in listed if p["jurisdiction"] == "INTERPOL")
    check = {c.name: c for c in doctor(inst)}["baseline profile"]
    assert not check.ok and "pinned" in check.detail
    inst.close()

    inst = Installation.init(Settings(data_dir=tmp_path / "data", allow_interpol_profile=True))
    replaced = load_profile_set("XX", folders=[profiles], allow_baseline_override=True)
    assert baseline_warning(replaced.baseline) is not None
    check = {c.name: c for c in doctor(inst)}["baseline profile"]
    assert check.level == "warn" and replaced.baseline.sha256[:16] in check.detail
    reviewers(inst.catalog)
    (item,) = _items(inst.catalog, 1)
    drawn_unclear = grading(age_group="unclear", depiction="drawn", sexual_activity=True)
    decide_item(inst.catalog, ReviewConfig(profiles=replaced), item, "ann", drawn_unclear)
    newest = inst.catalog.item_decisions(item)["verdicts"][-1]
    assert newest["verdict"] == "baseline" and newest["baseline_profile_sha256"] == replaced.baseline.sha256
    inst.close()


# -- 5. unclear age or depiction: undetermined, a senior decides -------------------------------------
def test_an_unclear_age_is_undetermined_and_waits_for_a_senior(catalog: Catalog) -> None:
    (item,) = _items(catalog, 1)
    unclear = grading(age_group="unclear", depiction="real", sexual_activity=True)
    decide_item(catalog, CONFIG, item, "ann", unclear)
    assert {o.sha256: o.verdict for o in catalog.outcomes([1])} == {item: Verdict.UNDETERMINED}
    assert [e.sha256 for e in catalog.escalated_items()] == [item]
    assert catalog.export_candidates("interpol") == [] and catalog.purge_candidates(datetime(2100, 1, 1)) == []
    interpol = next(j for j in catalog.item_decisions(item)["jurisdictions"] if j["jurisdiction"] == "INTERPOL")
    assert interpol["undetermined"] and not interpol["illegal"]
    with pytest.raises(NotAllowed, match="a senior decides"):
        decide_item(catalog, CONFIG, item, "bob", BASELINE)
    with pytest.raises(NotAllowed, match="a senior decides"):
        set_by_hand(catalog, CONFIG, item, Verdict.NOT_ILLEGAL, "bob", "looks adult")
    decide_item(catalog, CONFIG, item, "sam", BASELINE)  # the senior sees a prepubescent child
    assert catalog.escalated_items() == []
    assert [c.sha256 for c in catalog.export_candidates("interpol")] == [item]


def test_an_analyst_cannot_hand_set_past_an_undetermined_grading(catalog: Catalog) -> None:
    (item,) = _items(catalog, 1)
    unclear = grading(age_group="prepubescent", depiction="unclear", genital_focus=True)
    with pytest.raises(NotAllowed, match="a senior decides"):
        decide_item(catalog, CONFIG, item, "ann", unclear, verdict=Verdict.NOT_ILLEGAL, reason="probably drawn")
    adult = grading(age_group="unclear", depiction="real")  # nothing sexual: no law turns on the age
    decide_item(catalog, CONFIG, item, "ann", adult)
    assert catalog.escalated_items() == []


def test_migration_0015_goes_down_and_up_on_both_databases(catalog_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    from catalog.db import _alembic_config

    cat = Catalog(catalog_url)
    cat.migrate()
    assert cat.review_rules().four_eyes is False  # seeded: the rule exists, off until an admin turns it on
    cfg = _alembic_config()
    with cat.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015@0010")
        conn.commit()
    inspector = sa.inspect(cat.engine)
    assert not {"review_rules", "cli_tokens"} & set(inspector.get_table_names())
    assert "undetermined" not in {c["name"] for c in inspector.get_columns("jurisdiction_verdicts")}
    cat.migrate()
    assert {"review_rules", "cli_tokens"} <= set(sa.inspect(cat.engine).get_table_names())
    cat.dispose()

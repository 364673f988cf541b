"""Law profiles: data files that turn a grading into one jurisdiction's verdict.

A profile is a TOML file (grammar in docs/classification.md): a jurisdiction code, a name,
a default verdict and an ordered list of rules; the first rule whose conditions all hold
decides. INTERPOL's baseline is itself a profile (``interpol.toml``, jurisdiction
``INTERPOL``). Profiles ship in ``classification/profiles/``; an installation adds or
replaces them with files in ``<data_dir>/profiles/``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from catalog.decisions.records import GradingRecord, JurisdictionVerdict
from classification.attributes import ATTRIBUTE_VALUES, BOOLEAN_ATTRIBUTES, SEVERITY, concrete_readings
from classification.errors import ProfileError, UnknownJurisdiction

SHIPPED = Path(__file__).resolve().parent / "profiles"
"""The profiles that ship with hotline (examples: have a lawyer check yours)."""
BASELINE = "INTERPOL"

_VERDICTS = {"illegal": True, "not-illegal": False}
_LIST_CONDITIONS = ("age_group", "depiction", "genders")
_RULE_KEYS = {"name", "verdict", "any", "min_severity", "tags", *_LIST_CONDITIONS, *BOOLEAN_ATTRIBUTES}
_PROFILE_KEYS = {"jurisdiction", "name", "default", "description", "sources", "rules"}


@dataclass(frozen=True)
class Rule:
    """Conditions that must all hold, and the verdict when they do."""

    name: str
    illegal: bool
    allowed: Mapping[str, frozenset[str]]  # age_group / depiction / genders -> values that qualify
    flags: Mapping[str, bool]  # sexual_activity / genital_focus / self_generated -> required value
    any_of: tuple[str, ...] = ()  # at least one of these yes/no attributes is yes
    min_severity: int | None = None
    tags: frozenset[str] = frozenset()  # at least one of these tags

    def holds(self, g: GradingRecord) -> bool:
        if "age_group" in self.allowed and g.age_group not in self.allowed["age_group"]:
            return False
        if "depiction" in self.allowed and g.depiction not in self.allowed["depiction"]:
            return False
        if "genders" in self.allowed and not self.allowed["genders"].intersection(g.genders):
            return False
        if any(getattr(g, name) is not want for name, want in self.flags.items()):
            return False
        if self.any_of and not any(getattr(g, name) for name in self.any_of):
            return False
        if self.min_severity is not None and g.severity < self.min_severity:
            return False
        return not self.tags or bool(self.tags.intersection(g.tags))


@dataclass(frozen=True)
class LawProfile:
    jurisdiction: str
    name: str
    default_illegal: bool
    rules: tuple[Rule, ...]
    sha256: str  # of the file: a changed file means verdicts must be recomputed
    path: str
    description: str = ""
    replaces_shipped: bool = False  # an installation's file took the place of the shipped profile

    def literal(self, g: GradingRecord) -> JurisdictionVerdict:
        """The verdict of the first rule that holds for ``g`` as it is (``unclear`` taken as
        a value of its own), else the profile's default."""
        for rule in self.rules:
            if rule.holds(g):
                return JurisdictionVerdict(self.jurisdiction, rule.illegal, self.name, self.sha256, rule.name)
        return JurisdictionVerdict(self.jurisdiction, self.default_illegal, self.name, self.sha256, None)

    def evaluate(self, g: GradingRecord) -> JurisdictionVerdict:
        """This jurisdiction's verdict on grading ``g``. When ``g`` leaves the age group or
        the depiction unclear and the profile does not find it illegal as it is, but would
        for some value the unclear attribute could have, the verdict is undetermined: not
        illegal on record, flagged, and the item goes to a senior."""
        found = self.literal(g)
        if found.illegal:
            return found
        for reading in concrete_readings(g):
            could = self.literal(reading)
            if could.illegal:
                which = ", ".join(f"{name} {getattr(reading, name)}" for name in ("age_group", "depiction")
                                  if getattr(g, name) != getattr(reading, name))
                return replace(found, undetermined=True, rule=f"undetermined: illegal if {which} ({could.rule})")
        return found


def _where(path: Path, rule: int | None = None) -> str:
    return f"{path.name}" + (f", rule {rule + 1}" if rule is not None else "")


def _rule(raw: Any, path: Path, index: int) -> Rule:
    where = _where(path, index)
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a rule is a table ([[rules]]), not {raw!r}")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {unknown!r}; allowed: {sorted(_RULE_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{where}: every rule needs a name")
    verdict = raw.get("verdict")
    if verdict not in _VERDICTS:
        raise ProfileError(f"{where}: verdict must be 'illegal' or 'not-illegal', not {verdict!r}")
    allowed: dict[str, frozenset[str]] = {}
    for key in _LIST_CONDITIONS:
        if key in raw:
            values = raw[key]
            if not isinstance(values, list) or not values:
                raise ProfileError(f"{where}: {key} must be a non-empty list, not {values!r}")
            bad = [v for v in values if v not in ATTRIBUTE_VALUES[key]]
            if bad:
                raise ProfileError(f"{where}: {key} has unknown value(s) {bad!r}; "
                                   f"known: {list(ATTRIBUTE_VALUES[key])}")
            allowed[key] = frozenset(values)
    flags: dict[str, bool] = {}
    for key in BOOLEAN_ATTRIBUTES:
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ProfileError(f"{where}: {key} must be true or false, not {raw[key]!r}")
            flags[key] = raw[key]
    any_of = raw.get("any", [])
    if not isinstance(any_of, list) or any(a not in BOOLEAN_ATTRIBUTES for a in any_of):
        raise ProfileError(f"{where}: any must list yes/no attributes {list(BOOLEAN_ATTRIBUTES)}, not {any_of!r}")
    min_severity = raw.get("min_severity")
    if min_severity is not None and min_severity not in SEVERITY:
        raise ProfileError(f"{where}: min_severity must be one of {sorted(SEVERITY)}, not {min_severity!r}")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ProfileError(f"{where}: tags must be a list of words, not {tags!r}")
    return Rule(name=name.strip(), illegal=_VERDICTS[verdict], allowed=allowed, flags=flags,
                any_of=tuple(any_of), min_severity=min_severity, tags=frozenset(t.lower() for t in tags))


def load_profile(path: Path) -> LawProfile:
    """Read and check one profile file (ProfileError names the file, rule and key at fault)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path.name}: cannot read the profile: {exc}") from exc
    unknown = sorted(set(raw) - _PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"{path.name}: unknown key(s) {unknown!r}; allowed: {sorted(_PROFILE_KEYS)}")
    jurisdiction = raw.get("jurisdiction")
    if not isinstance(jurisdiction, str) or not (jurisdiction == BASELINE or (
            len(jurisdiction) == 2 and jurisdiction.isalpha() and jurisdiction.isupper())):
        raise ProfileError(f"{path.name}: jurisdiction must be an upper-case ISO 3166 code or "
                           f"{BASELINE!r}, not {jurisdiction!r}")
    default = raw.get("default", "not-illegal")
    if default not in _VERDICTS:
        raise ProfileError(f"{path.name}: default must be 'illegal' or 'not-illegal', not {default!r}")
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        raise ProfileError(f"{path.name}: rules must be an array of tables ([[rules]])")
    return LawProfile(
        jurisdiction=jurisdiction,
        name=str(raw.get("name") or jurisdiction),
        default_illegal=_VERDICTS[default],
        rules=tuple(_rule(r, path, i) for i, r in enumerate(rules)),
        sha256=hashlib.sha256(data).hexdigest(),
        path=str(path),
        description=str(raw.get("description", "")).strip(),
    )


@dataclass(frozen=True)
class ProfileSet:
    """The profiles an installation applies: INTERPOL's baseline, the home country's
    (which makes the *national* verdict) and any others configured."""

    baseline: LawProfile
    home: LawProfile
    others: tuple[LawProfile, ...] = ()

    @property
    def all(self) -> tuple[LawProfile, ...]:
        return (self.baseline, self.home, *self.others)

    def evaluate(self, g: GradingRecord) -> tuple[JurisdictionVerdict, ...]:
        return tuple(p.evaluate(g) for p in self.all)


def available_profiles(folders: Iterable[Path] = (), *, allow_baseline_override: bool = False) -> dict[str, LawProfile]:
    """Every profile by jurisdiction: the shipped ones, then ``folders`` in order (a later
    file for the same jurisdiction replaces an earlier one).

    INTERPOL's baseline is pinned to the shipped file: what it says is sent to INTERPOL as
    the baseline, so a file for it in ``folders`` is refused unless ``allow_baseline_override``
    (the ``allow_interpol_profile`` setting) says the installation means it."""
    found: dict[str, LawProfile] = {}
    for folder in (SHIPPED, *folders):
        folder = Path(folder)
        if not folder.is_dir():
            continue
        shipped = folder.resolve() == SHIPPED
        for path in sorted(folder.glob("*.toml")):
            profile = load_profile(path)
            if not shipped and profile.jurisdiction == BASELINE and not allow_baseline_override:
                raise ProfileError(
                    f"{path}: replaces the shipped INTERPOL baseline profile, which is pinned; remove the "
                    f"file, or set allow_interpol_profile (HOTLINE_ALLOW_INTERPOL_PROFILE=true) if the "
                    f"installation really means to derive the baseline from it")
            if not shipped and profile.jurisdiction in found:
                profile = replace(profile, replaces_shipped=True)
            found[profile.jurisdiction] = profile
    return found


def baseline_warning(profile: LawProfile) -> str | None:
    """The warning to show while an installation's file replaces the shipped INTERPOL profile."""
    if profile.jurisdiction != BASELINE or not profile.replaces_shipped:
        return None
    return (f"the INTERPOL baseline is derived from {profile.path} (sha256 {profile.sha256[:16]}), not from the "
            f"shipped profile; every verdict records that checksum")


def load_profile_set(home: str, others: Sequence[str] = (), folders: Iterable[Path] = (), *,
                     allow_baseline_override: bool = False) -> ProfileSet:
    """The baseline, the profile of ``home`` (the hotline's country) and of ``others``."""
    found = available_profiles(folders, allow_baseline_override=allow_baseline_override)

    def pick(code: str) -> LawProfile:
        try:
            return found[code.upper()]
        except KeyError:
            raise UnknownJurisdiction(
                f"no law profile for {code!r}; have {sorted(found)}. Write one as "
                f"docs/classification.md describes and put it in the data directory's profiles/ folder"
            ) from None

    home_profile = pick(home)
    extra = tuple(pick(c) for c in dict.fromkeys(c.upper() for c in others) if c not in (home.upper(), BASELINE))
    return ProfileSet(baseline=pick(BASELINE), home=home_profile, others=extra)

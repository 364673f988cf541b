"""Category profiles: what a known set's own categories mean, as data files.

The same VICS category number means different things in different national programmes,
so a set names at import the profile its categories follow (``vics-us``, ``caid-uk``,
``icse``, ``hotline``; shipped in ``hashing/knownsets/category_profiles/``, more in
``<data_dir>/category_profiles/``). A profile is one TOML file: a ``name``, a ``title``,
the ``sources`` its meanings come from, and one line per category with its meaning and
the outcome of a match: a verdict (``baseline``, ``national``, ``not-illegal``) or
``review``. Writing one is documented in docs/hashing.md.

``plan_categories`` turns a set's categories (with their row counts), the profile, the
operator's explicit ``--category`` mappings and ``--unknown-category`` into the table the
import prints and the catalog stores. It fails safe: a category nobody mapped refuses the
import; a row without a category in a set whose rows carry categories goes to review; the
set-wide verdict applies only to a set whose rows carry no category at all.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.decisions.records import REVIEW, Verdict
from hashing.errors import KnownSetError

SHIPPED = Path(__file__).resolve().parent / "category_profiles"
Outcome = Verdict | None
"""What a match in a category leads to: a verdict, or ``None``: review, the match a hint."""

_OUTCOMES: dict[str, Outcome] = {v.value: v for v in Verdict} | {REVIEW: None}
_KEYS = {"name", "title", "sources", "categories"}
_LINE_KEYS = {"meaning", "verdict"}


def parse_outcome(text: str) -> Outcome:
    """``baseline``, ``national``, ``not-illegal`` or ``review`` (``None``)."""
    key = text.strip().lower().replace("_", "-")
    if key not in _OUTCOMES:
        raise KnownSetError(f"unknown category outcome {text!r}; choose one of {', '.join(_OUTCOMES)}")
    return _OUTCOMES[key]


def outcome_text(outcome: Outcome) -> str:
    return REVIEW if outcome is None else outcome.value


@dataclass(frozen=True)
class CategoryProfile:
    """One programme's categories: meaning and outcome per category."""

    name: str
    title: str
    sources: tuple[str, ...]
    meanings: Mapping[str, str]
    outcomes: Mapping[str, Outcome]
    sha256: str  # of the file
    path: str


def load_category_profile_file(path: Path) -> CategoryProfile:
    """Read and check one profile file (``KnownSetError`` names the file and the key)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KnownSetError(f"{path.name}: cannot read the category profile: {exc}") from exc
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise KnownSetError(f"{path.name}: unknown key(s) {unknown!r}; allowed: {sorted(_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise KnownSetError(f"{path.name}: a category profile needs a name")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s.strip() for s in sources):
        raise KnownSetError(f"{path.name}: sources must list where the meanings come from, not {sources!r}")
    categories = raw.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise KnownSetError(f"{path.name}: [categories] must map each category to its meaning and verdict")
    meanings: dict[str, str] = {}
    outcomes: dict[str, Outcome] = {}
    for category, line in categories.items():
        where = f"{path.name}: category {category!r}"
        if not isinstance(line, dict) or set(line) - _LINE_KEYS or not {"meaning", "verdict"} <= set(line):
            raise KnownSetError(f"{where}: give {{ meaning = \"...\", verdict = \"...\" }}, not {line!r}")
        if not isinstance(line["meaning"], str) or not line["meaning"].strip():
            raise KnownSetError(f"{where}: meaning must be a non-empty string")
        if not isinstance(line["verdict"], str):
            raise KnownSetError(f"{where}: verdict must be a string, not {line['verdict']!r}")
        try:
            outcomes[category] = parse_outcome(line["verdict"])
        except KnownSetError as exc:
            raise KnownSetError(f"{where}: {exc}") from None
        meanings[category] = line["meaning"].strip()
    return CategoryProfile(
        name=name.strip(), title=str(raw.get("title") or name).strip(), sources=tuple(sources),
        meanings=meanings, outcomes=outcomes, sha256=hashlib.sha256(data).hexdigest(), path=str(path),
    )


def available_category_profiles(folders: Iterable[Path] = ()) -> dict[str, CategoryProfile]:
    """Every category profile by name: the shipped ones, then ``folders`` in order (a later
    file with the same name replaces an earlier one)."""
    found: dict[str, CategoryProfile] = {}
    for folder in (SHIPPED, *folders):
        folder = Path(folder)
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                profile = load_category_profile_file(path)
                found[profile.name] = profile
    return found


def load_category_profile(name: str, folders: Iterable[Path] = ()) -> CategoryProfile:
    found = available_category_profiles(folders)
    if name not in found:
        raise KnownSetError(
            f"no category profile {name!r}; have {', '.join(sorted(found))}. Write one as "
            "docs/hashing.md describes and put it in the data directory's category_profiles/ folder"
        )
    return found[name]


@dataclass(frozen=True)
class CategoryLine:
    """One line of the import's table: a category (``None``: rows without one), what it
    means, what a match in it leads to, what decided that, and how many rows carry it."""

    category: str | None
    meaning: str | None
    outcome: Outcome
    by: str  # profile NAME | --category | --unknown-category | --verdict | benign | no category
    rows: int


@dataclass(frozen=True)
class CategoryPlan:
    """How a set's rows turn into verdicts. ``categorized``: its rows carry categories, so
    the set-wide ``verdict`` does not apply and rows without a category go to review."""

    lines: tuple[CategoryLine, ...]
    categorized: bool
    verdict: Verdict | None  # for the rows of a set without categories
    profile: str | None = None
    profile_sha256: str | None = None

    def mapping(self) -> dict[str, Outcome]:
        """Category -> outcome, for every category the set's rows carry."""
        return {line.category: line.outcome for line in self.lines if line.category is not None}

    def table(self) -> list[dict[str, Any]]:
        return [
            {"category": "(none)" if line.category is None else line.category, "meaning": line.meaning or "",
             "verdict": outcome_text(line.outcome), "by": line.by, "rows": line.rows}
            for line in self.lines
        ]


def plan_categories(
    counts: Mapping[str | None, int],
    *,
    verdict: Verdict | None,
    profile: CategoryProfile | None = None,
    explicit: Mapping[str, Outcome] | None = None,
    unknown: Outcome | str = "refuse",
    benign: bool = False,
    source: str = "known set",
) -> CategoryPlan:
    """The outcome of every category in ``counts`` (rows per category, ``None`` for rows
    without one). Raises ``KnownSetError`` for a categorised set given a set-wide
    ``verdict``, for a set without categories given none, and (unless ``unknown`` is an
    outcome) for categories neither ``explicit`` nor ``profile`` maps, naming them."""
    explicit = dict(explicit or {})
    named = sorted((c for c in counts if c is not None), key=_category_order)
    if benign:
        benign_lines = [CategoryLine(c, _meaning(profile, c), Verdict.NOT_ILLEGAL, "benign", counts[c])
                        for c in [None, *named] if c in counts]
        return CategoryPlan(tuple(benign_lines), bool(named), Verdict.NOT_ILLEGAL, _name(profile), _sha(profile))
    if not named:
        if verdict is None:
            raise KnownSetError(f"{source}: its rows carry no category: give the set's verdict (--verdict)")
        return CategoryPlan((CategoryLine(None, None, verdict, "--verdict", counts.get(None, 0)),), False, verdict)
    if verdict is not None:
        raise KnownSetError(
            f"{source}: --verdict applies only to sets whose rows carry no category, and these rows carry "
            f"{_listing(named, counts)}: name what they mean with --category-profile "
            f"({', '.join(sorted(available_category_profiles()))}) or map them with --category CATEGORY=VERDICT"
        )
    lines: list[CategoryLine] = []
    missing: list[str] = []
    for c in named:
        if c in explicit:
            lines.append(CategoryLine(c, _meaning(profile, c), explicit[c], "--category", counts[c]))
        elif profile is not None and c in profile.outcomes:
            lines.append(CategoryLine(c, profile.meanings[c], profile.outcomes[c], f"profile {profile.name}", counts[c]))
        elif unknown != "refuse":
            lines.append(CategoryLine(c, None, parse_outcome(unknown) if isinstance(unknown, str) else unknown,
                                      "--unknown-category", counts[c]))
        else:
            missing.append(c)
    if missing:
        known = f"the category profile {profile.name!r} does not know" if profile else "no --category-profile names"
        raise KnownSetError(
            f"{source}: {known} {_listing(missing, counts)}: map them with --category CATEGORY=VERDICT "
            "(baseline, national, not-illegal or review), or say how to treat categories nobody mapped with "
            "--unknown-category review"
        )
    if None in counts:
        lines.insert(0, CategoryLine(None, None, None, "no category", counts[None]))
    return CategoryPlan(tuple(lines), True, None, _name(profile), _sha(profile))


def _category_order(c: str) -> tuple[bool, int, str]:
    return (not c.isdigit(), int(c) if c.isdigit() else 0, c)


def _listing(categories: list[str], counts: Mapping[str | None, int]) -> str:
    shown = ", ".join(f"{c!r} ({counts[c]} row{'s' if counts[c] != 1 else ''})" for c in categories[:20])
    more = f" and {len(categories) - 20} more" if len(categories) > 20 else ""
    return f"categor{'ies' if len(categories) != 1 else 'y'} {shown}{more}"


def _meaning(profile: CategoryProfile | None, category: str | None) -> str | None:
    return None if profile is None or category is None else profile.meanings.get(category)


def _name(profile: CategoryProfile | None) -> str | None:
    return None if profile is None else profile.name


def _sha(profile: CategoryProfile | None) -> str | None:
    return None if profile is None else profile.sha256

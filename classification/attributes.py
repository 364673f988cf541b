"""The grading schema: what an analyst records about an item, once, instead of a verdict.

Every verdict is derived from these attributes (``classification.derive``), so one grading
serves INTERPOL's baseline and every jurisdiction's law profile. The values are short,
stable words because they are stored in the catalog and written in law profiles.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from catalog.decisions.records import GradingRecord
from classification.errors import InvalidGrading


class AgeGroup(enum.StrEnum):
    """The apparent age group of the youngest person shown."""

    INFANT_TODDLER = "infant-toddler"
    PREPUBESCENT = "prepubescent"
    PUBESCENT = "pubescent"
    ADULT = "adult"
    UNCLEAR = "unclear"


class Depiction(enum.StrEnum):
    """Whether a real person is shown, or a drawing, CGI or AI-generated picture."""

    REAL = "real"
    DRAWN = "drawn"
    CGI = "cgi"
    AI_GENERATED = "ai-generated"
    UNCLEAR = "unclear"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNCLEAR = "unclear"


SEVERITY = {
    0: "none: no nudity, no sexual context",
    1: "nudity or erotic posing, no sexual activity",
    2: "non-penetrative sexual activity, or focus on the genital or anal region",
    3: "penetrative sexual activity, sadism or bestiality",
}
"""The severity scale, 0..3 (close to the UK's categories C, B and A above 0)."""

BOOLEAN_ATTRIBUTES = ("sexual_activity", "genital_focus", "self_generated")
"""Attributes that are yes/no (``self_generated`` may also be unknown)."""

ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "age_group": tuple(a.value for a in AgeGroup),
    "depiction": tuple(d.value for d in Depiction),
    "genders": tuple(g.value for g in Gender),
}

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


def _choice(name: str, value: Any) -> str:
    text = str(value).strip().lower().replace("_", "-")
    if text not in ATTRIBUTE_VALUES[name]:
        raise InvalidGrading(f"{name} must be one of {', '.join(ATTRIBUTE_VALUES[name])}, not {value!r}")
    return text


def _flag(name: str, value: Any, *, unknown_ok: bool = False) -> bool | None:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if unknown_ok and text in {"", "unknown", "unclear", "?"}:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidGrading(f"{name} must be yes or no, not {value!r}")


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [w.strip() for w in value.replace(";", ",").split(",") if w.strip()]
    return [str(w).strip() for w in value if str(w).strip()]


def grading(
    *,
    age_group: str,
    depiction: str,
    genders: Iterable[str] | str = (),
    sexual_activity: Any = False,
    genital_focus: Any = False,
    severity: Any = None,
    self_generated: Any = None,
    tags: Iterable[str] | str = (),
) -> GradingRecord:
    """A checked ``GradingRecord``. Words are case-insensitive; ``severity`` defaults to the
    lowest level the other attributes imply (2 with sexual activity or genital focus, else 0);
    a severity that contradicts them is refused (``check_consistent``)."""
    sexual = bool(_flag("sexual_activity", sexual_activity))
    focus = bool(_flag("genital_focus", genital_focus))
    implied = 2 if sexual or focus else 0
    if severity is None or str(severity).strip() == "":
        level = implied
    else:
        try:
            level = int(str(severity).strip())
        except ValueError:
            raise InvalidGrading(f"severity must be 0..3, not {severity!r}") from None
        if level not in SEVERITY:
            raise InvalidGrading(f"severity must be 0..3, not {severity!r}")
    check_consistent(sexual, focus, level)
    chosen_genders = sorted({_choice("genders", g) for g in _words(genders)})
    return GradingRecord(
        age_group=_choice("age_group", age_group),
        genders=tuple(chosen_genders) or ("unclear",),
        depiction=_choice("depiction", depiction),
        sexual_activity=sexual,
        genital_focus=focus,
        severity=level,
        self_generated=_flag("self_generated", self_generated, unknown_ok=True),
        tags=tuple(sorted({t.lower() for t in _words(tags)})),
    )


def check_consistent(sexual_activity: bool, genital_focus: bool, severity: int) -> None:
    """Refuse a grading whose severity and yes/no attributes contradict each other.

    The profiles decide on the yes/no attributes, so a severity of 2 or 3 (sexual activity,
    or genital focus) without either would be read as "nothing sexual" by every profile.
    Deriving the flags from the severity cannot work (severity 2 does not say which of the
    two it is), so the analyst is asked to say it."""
    if (sexual_activity or genital_focus) and severity < 2:
        raise InvalidGrading("sexual activity or genital focus means a severity of at least 2, "
                             f"not {severity!r}")
    if severity >= 2 and not (sexual_activity or genital_focus):
        raise InvalidGrading(f"severity {severity!r} means sexual activity or focus on the genital or anal "
                             "region: say which (sexual_activity, genital_focus), or give a lower severity")


UNCLEAR = "unclear"
CONCRETE: dict[str, tuple[str, ...]] = {
    name: tuple(v for v in ATTRIBUTE_VALUES[name] if v != UNCLEAR) for name in ("age_group", "depiction")}
"""The values an unclear age group or depiction could really be."""


def concrete_readings(record: GradingRecord) -> list[GradingRecord]:
    """Every grading ``record`` could be if its unclear age group and depiction were known
    (empty when neither is unclear)."""
    unclear = [name for name in CONCRETE if getattr(record, name) == UNCLEAR]
    if not unclear:
        return []
    ages = CONCRETE["age_group"] if "age_group" in unclear else (record.age_group,)
    depictions = CONCRETE["depiction"] if "depiction" in unclear else (record.depiction,)
    return [replace(record, age_group=a, depiction=d) for a in ages for d in depictions]


def grading_from_form(form: Mapping[str, Any], genders: Iterable[str] = ()) -> GradingRecord:
    """A grading from web-form or command-line fields (missing yes/no fields mean no)."""
    try:
        age_group, depiction = form["age_group"], form["depiction"]
    except KeyError as missing:
        raise InvalidGrading(f"the grading needs {missing.args[0]}") from None
    return grading(
        age_group=age_group,
        depiction=depiction,
        genders=list(genders) or form.get("genders", ()),
        sexual_activity=form.get("sexual_activity", False),
        genital_focus=form.get("genital_focus", False),
        severity=form.get("severity"),
        self_generated=form.get("self_generated") or None,
        tags=form.get("tags", ()),
    )


def attribute_value(record: GradingRecord, name: str) -> Any:
    """The value of attribute ``name`` (as law profiles name it) in ``record``."""
    if name not in {"age_group", "depiction", "genders", "sexual_activity", "genital_focus", "severity",
                    "self_generated", "tags"}:
        raise InvalidGrading(f"no grading attribute {name!r}")
    return getattr(record, name)

"""The verdict table: every grading `hotline classify` accepts, per shipped law profile,
before and after gradings had to be consistent and unclear ages/depictions became
undetermined.

"Before" is the grading model as it was: a severity of 2-3 was accepted without sexual
activity or genital focus, and a profile's rules were applied to the grading literally
(``LawProfile.literal``), so "unclear" matched no rule and fell to the default. "After" is
``classification.grading`` (refuses what contradicts itself) and ``LawProfile.evaluate``
(undetermined when a value the unclear attribute could have makes it illegal). Both run in
this process over the same shipped profile files.

Run: .venv/bin/python bench/verdict_table.py [--rows]   (--rows: every combination, as CSV)
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter

from catalog.decisions.records import GradingRecord
from classification import available_profiles, grading, load_profile_set
from classification.attributes import ATTRIBUTE_VALUES
from classification.derive import main_verdict
from classification.errors import InvalidGrading

REFUSED = "refused"


def combinations() -> list[tuple[str, str, bool, bool, int]]:
    """(age group, depiction, sexual activity, genital focus, severity) as the CLI's options give them."""
    return list(itertools.product(ATTRIBUTE_VALUES["age_group"], ATTRIBUTE_VALUES["depiction"], (False, True),
                                  (False, True), range(4)))


def before(combo: tuple[str, str, bool, bool, int]) -> GradingRecord | None:
    age, kind, sexual, focus, severity = combo
    if (sexual or focus) and severity < 2:  # the one check the old model made
        return None
    return GradingRecord(age, ("unclear",), kind, sexual, focus, severity)


def after(combo: tuple[str, str, bool, bool, int]) -> GradingRecord | None:
    age, kind, sexual, focus, severity = combo
    try:
        return grading(age_group=age, depiction=kind, sexual_activity=sexual, genital_focus=focus, severity=severity)
    except InvalidGrading:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", action="store_true", help="print every combination as CSV")
    args = parser.parse_args()
    profiles = available_profiles()
    home = load_profile_set("XX", [c for c in profiles if c not in ("INTERPOL", "XX")])
    combos = combinations()
    rows = []
    for combo in combos:
        old, new = before(combo), after(combo)
        row: dict[str, str] = {}
        for code, profile in profiles.items():
            row[f"{code} before"] = REFUSED if old is None else (
                "illegal" if profile.literal(old).illegal else "not-illegal")
            if new is None:
                row[f"{code} after"] = REFUSED
            else:
                found = profile.evaluate(new)
                row[f"{code} after"] = "illegal" if found.illegal else "undetermined" if found.undetermined \
                    else "not-illegal"
        row["main before"] = REFUSED if old is None else main_verdict(
            [p.literal(old) for p in home.all], "XX").value
        row["main after"] = REFUSED if new is None else main_verdict(home.evaluate(new), "XX").value
        rows.append((combo, row))
    if args.rows:
        codes = [*profiles, "main"]
        print("age_group,depiction,sexual_activity,genital_focus,severity," +
              ",".join(f"{c} before,{c} after" for c in codes))
        for combo, row in rows:
            print(",".join(map(str, combo)) + "," + ",".join(f"{row[c + ' before']},{row[c + ' after']}" for c in codes))
        return
    accepted_before = sum(before(c) is not None for c in combos)
    accepted_after = sum(after(c) is not None for c in combos)
    print(f"{len(combos)} option combinations; accepted before: {accepted_before}, after: {accepted_after} "
          f"(refused now: {accepted_before - accepted_after}, severity 2-3 without sexual activity or genital focus)")
    # INTERPOL's public description: a real child, apparently prepubescent, in or witnessing a
    # sexual act (severity 2-3 says there is one), or with the focus on the genital or anal region
    def public(g: GradingRecord) -> bool:
        return g.depiction == "real" and g.age_group in ("infant-toddler", "prepubescent") and (
            g.sexual_activity or g.genital_focus or g.severity >= 2)

    interpol = profiles["INTERPOL"]
    wrong_before = sum(1 for c in combos if (g := before(c)) is not None and interpol.literal(g).illegal != public(g))
    wrong_after = sum(1 for c in combos if (g := after(c)) is not None and interpol.evaluate(g).illegal != public(g))
    print(f"accepted gradings whose INTERPOL verdict contradicts INTERPOL's public definition: before {wrong_before}, "
          f"after {wrong_after}")
    print(f"{'profile':<10} {'before (accepted gradings)':<44} {'after (accepted gradings)':<56} changed")
    for code in [*profiles, "main"]:
        old = Counter(r[f"{code} before"] for _, r in rows if r[f"{code} before"] != REFUSED)
        new = Counter(r[f"{code} after"] for _, r in rows if r[f"{code} after"] != REFUSED)
        changed = sum(r[f"{code} before"] != r[f"{code} after"] for _, r in rows if r[f"{code} before"] != REFUSED)
        became = Counter(f"{r[f'{code} before']}->{r[f'{code} after']}" for _, r in rows
                         if r[f"{code} before"] != REFUSED and r[f"{code} before"] != r[f"{code} after"])
        label = "main (XX)" if code == "main" else code
        print(f"{label:<10} {dict(sorted(old.items()))!s:<44} {dict(sorted(new.items()))!s:<56} {changed}: "
              f"{dict(sorted(became.items()))}")


if __name__ == "__main__":
    main()

"""No assessment twice across hotlines: an item a partner hotline's analysts decided takes
our own verdict from their grading, when nothing about it is in doubt.

A partner's handled list names the SHA-256s its analysts decided, with their verdict and the
grading it was derived from (``exports.handled_lists``). The grading is attributes (age
group, depiction, sexual activity ...), not a verdict under the partner's law: our law
profiles derive our verdicts from it (``derive.decide``) as from any grading. The item's
verdict has source ``partner`` and is nobody's here: INTERPOL is not sent it, nor are our
hash sets and handled lists (they take our analysts' verdicts only).

In doubt the item goes to review, with the partners' verdicts shown (audited as
``verdict.ambiguous`` with the reason):

* a partner's record carries no grading (the partner set its verdict by hand, or its list
  predates gradings), or one our profiles do not know (an unknown value, a contradiction);
* two partners graded it differently;
* INTERPOL's baseline profile, which both sides apply, does not give the partner's verdict
  from its grading (baseline there, not here, or the other way round);
* our profiles leave the outcome undetermined (a senior decides).

A partner's correction (its next list, or a correction bundle) sends the item back to review
(``hotline.services.network_lists``, ``exports.inbound``): it is not re-derived from the
corrected record, which may itself be corrected again. An item sent back, or decided here
before, never takes a partner's decision afterwards.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.catalog import Catalog
from catalog.decisions.records import Decision, GradingRecord, Verdict
from catalog.exchange_ledger.partner_lists import PartnerAdoption
from catalog.exchange_ledger.records import PartnerHandled
from classification.attributes import grading
from classification.derive import decide
from classification.errors import InvalidGrading
from classification.profiles import BASELINE, ProfileSet


@dataclass(frozen=True)
class PartnerAdopted:
    decided: int  # items that took our verdict from a partner's grading: analyst views spared
    to_review: int  # items a partner decided that go to review instead (the reason audited)


def partner_grading(handled: PartnerHandled) -> GradingRecord:
    """The partner's grading as our attributes read it; ``InvalidGrading`` if it has none or
    one our attributes do not know."""
    if not handled.grading:
        raise InvalidGrading(f"partner {handled.partner}'s record carries no grading (its verdict was set by hand "
                             "or its list predates gradings)")
    g: dict[str, Any] = dict(handled.grading)
    try:
        return grading(age_group=g["age_group"], depiction=g["depiction"], genders=g.get("genders") or (),
                       sexual_activity=g.get("sexual_activity", False), genital_focus=g.get("genital_focus", False),
                       severity=g.get("severity"), self_generated=g.get("self_generated"), tags=g.get("tags") or ())
    except KeyError as missing:
        raise InvalidGrading(f"partner {handled.partner}'s grading lacks {missing.args[0]}") from None
    except (InvalidGrading, TypeError, ValueError) as exc:
        raise InvalidGrading(f"partner {handled.partner}'s grading is unknown to our profiles: {exc}") from None


def judge(sha256: str, handled: Sequence[PartnerHandled], profiles: ProfileSet) -> Decision | str:
    """Our decision from the partners' records of one item, or why it goes to review."""
    try:
        graded = {h.partner: partner_grading(h) for h in handled}
    except InvalidGrading as exc:
        return str(exc)
    if len(set(graded.values())) > 1:
        return "partners graded it differently: " + ", ".join(sorted(graded))
    decision = decide(sha256, next(iter(graded.values())), profiles)
    if decision.verdict is Verdict.UNDETERMINED:
        return "our law profiles leave the partner's grading undetermined: a senior decides"
    baseline = next(j for j in decision.jurisdictions if j.jurisdiction == BASELINE)
    for h in handled:
        if (h.verdict == Verdict.BASELINE.value) != baseline.illegal:
            return (f"partner {h.partner} says {h.verdict!r}, but INTERPOL's baseline profile gives "
                    f"{'baseline' if baseline.illegal else 'not baseline'} from its grading")
    return decision


def adopt_partner_decisions(catalog: Catalog, sha256s: Collection[str], profiles: ProfileSet, *,
                            actor: str = "matcher") -> PartnerAdopted:
    """Give each of ``sha256s`` that a partner decided our verdict from the partner's grading
    (``Catalog.record_partner_verdicts``: only items waiting for a decision that never had a
    verdict), or leave it for review with the reason audited; returns the counts."""
    waiting = catalog.media_in_status(list(sha256s), "hashed") | catalog.media_in_status(list(sha256s), "queued")
    handled = catalog.partner_decisions_of(waiting) if waiting else {}
    adoptions: list[PartnerAdoption] = []
    to_review: list[tuple[str, list[PartnerHandled], str]] = []
    for sha256, rows in sorted(handled.items()):
        outcome = judge(sha256, rows, profiles)
        if isinstance(outcome, str):
            to_review.append((sha256, rows, outcome))
        else:
            adoptions.append(PartnerAdoption(outcome, tuple(rows)))
    decided = catalog.record_partner_verdicts(adoptions, actor=actor)
    for sha256, rows, why in to_review:
        catalog.note_partner_review(sha256, rows, why, actor=actor)
    return PartnerAdopted(decided=len(decided), to_review=len(to_review))

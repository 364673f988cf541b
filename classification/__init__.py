"""Classification: what an item is, and who decided it.

One job: turn matches and analysts' decisions into verdicts. Items found in a known-hash
set take that set's verdict and never reach an analyst; the rest wait in the review queue
until an analyst records INTERPOL *baseline*, *nationally illegal* or *not illegal*.

May import: catalog. Imported by flows and the command line.
"""

from classification.queue import TriageResult, triage
from classification.verdicts import classify, parse_verdict

__all__ = ["TriageResult", "classify", "parse_verdict", "triage"]

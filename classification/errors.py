"""Classification errors.

ClassificationError
 ├── InvalidGrading      an attribute is missing or has a value the schema does not know
 ├── ProfileError        a law profile file cannot be read or says something the grammar does not
 │    └── UnknownJurisdiction   no profile for a jurisdiction that was asked for
 └── ReviewError         a queue action that does not fit the queue's state
      ├── LeaseLost      the cluster is not (or no longer) claimed by this analyst
      └── NotAllowed     four-eyes and role rules: e.g. confirming one's own verdict
"""

from __future__ import annotations


class ClassificationError(Exception):
    """Base of every classification error."""


class InvalidGrading(ClassificationError, ValueError):
    """A grading attribute is missing or not one of the schema's values."""


class ProfileError(ClassificationError, ValueError):
    """A law profile is unreadable or breaks the profile grammar (docs/classification.md)."""


class UnknownJurisdiction(ProfileError, LookupError):
    """No law profile is loaded for the jurisdiction asked for."""


class ReviewError(ClassificationError, ValueError):
    """A queue action that does not fit the state of the queue."""


class LeaseLost(ReviewError):
    """The cluster is not claimed by this analyst (never claimed, expired, or taken over)."""


class NotAllowed(ReviewError, PermissionError):
    """The rules forbid it: confirming one's own verdict, a role without the right."""

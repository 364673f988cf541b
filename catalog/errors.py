"""Catalog errors.

CatalogError
 ├── NotFound        no row with that key
 ├── Ambiguous       a media-ID prefix names more than one item
 ├── InvalidState    the change does not fit the row's current state
 └── Forbidden       the actor's role (or part in the item) does not allow it
"""


class CatalogError(Exception):
    """Base of every catalog error."""


class NotFound(CatalogError, LookupError):
    """No row with the key asked for."""


class Ambiguous(CatalogError, LookupError):
    """A shortened media ID matches more than one item."""


class InvalidState(CatalogError):
    """The change asked for does not fit the current state of the row."""


class Forbidden(CatalogError, PermissionError):
    """The actor may not do this: their role, or their part in the item (a grader cannot confirm)."""

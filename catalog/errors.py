"""Catalog errors.

CatalogError
 ├── NotFound        no row with that key
 ├── Ambiguous       a media-ID prefix names more than one item
 └── InvalidState    the change does not fit the row's current state
"""


class CatalogError(Exception):
    """Base of every catalog error."""


class NotFound(CatalogError, LookupError):
    """No row with the key asked for."""


class Ambiguous(CatalogError, LookupError):
    """A shortened media ID matches more than one item."""


class InvalidState(CatalogError):
    """The change asked for does not fit the current state of the row."""

"""Evidence store errors.

EvidenceError
 ├── EvidenceNotFound   no object with that SHA-256
 └── EvidenceTampered   the object failed authentication or its digest does not match
"""


class EvidenceError(Exception):
    """Base of every evidence store error."""


class EvidenceNotFound(EvidenceError, KeyError):
    """No object is stored under the SHA-256 asked for."""


class EvidenceTampered(EvidenceError):
    """A stored object failed decryption or its plaintext does not hash to its name."""

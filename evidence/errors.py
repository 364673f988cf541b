"""Evidence store errors.

EvidenceError
 ├── EvidenceNotFound      no object with that SHA-256
 ├── EvidenceTampered      the object failed authentication or its digest does not match
 └── EvidenceUnavailable   the store did not answer, or answered with a server error, even
                           after its retries (S3 5xx, timeouts, DNS): transient, try again later
"""


class EvidenceError(Exception):
    """Base of every evidence store error."""


class EvidenceNotFound(EvidenceError, KeyError):
    """No object is stored under the SHA-256 asked for."""


class EvidenceTampered(EvidenceError):
    """A stored object failed decryption or its plaintext does not hash to its name."""


class EvidenceUnavailable(EvidenceError):
    """The store could not be reached or kept failing; nothing is known about the object."""

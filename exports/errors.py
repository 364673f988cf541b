"""Export errors.

ExportError
 ├── KeyFileError          a key file is missing, unreadable, of the wrong type, or already exists
 ├── BundleError           a bundle was refused; nothing decrypted from it was released
 │    ├── UnsupportedBundle    not a hotline bundle (bad magic) or a format version we do not know
 │    ├── BundleTruncated      the file ends early: missing bytes, final chunk or signature
 │    ├── BundleTampered       a cryptographic check failed: signature, GCM tag, key unwrap,
 │    │                        bad chunk framing, or the file changed between verify and decrypt
 │    ├── BundleMalformed      the header, or the authenticated payload, breaks the format
 │    ├── BundleNotForUs       no recipient entry matches our key's fingerprint
 │    ├── UnknownSender        the signer is not among the trusted senders
 │    └── BundleReplayed       a bundle with this ID was imported already
 │         └── StatisticsSuperseded  statistics for that hotline and month as new or newer are kept
 └── DeliveryError         a destination could not take a bundle
      ├── DeliveryConflict     a different file already sits under that name
      ├── DeliveryRefused      the destination refused for good (missing bucket, access denied,
      │                        bad credentials): not retried, the operator must act
      └── NoticeNotSent        the mail server did not take a notice to an abuse contact
                               (unreachable, refused): it waits in the outbox for the next run
"""


class ExportError(Exception):
    """Base of every exports error."""


class KeyFileError(ExportError):
    """A key file is missing, unreadable, holds the wrong kind of key, or would be overwritten."""


class BundleError(ExportError):
    """A bundle was refused."""


class UnsupportedBundle(BundleError):
    """Not a hotline bundle, or a format version or algorithm this reader does not know."""


class BundleTruncated(BundleError):
    """The bundle ends before its final chunk and signature."""


class BundleTampered(BundleError):
    """The bundle failed a cryptographic check: its bytes are not the ones the sender signed."""


class BundleMalformed(BundleError):
    """The header, or the payload after authentication, does not follow the bundle format."""


class BundleNotForUs(BundleError):
    """The bundle holds no wrapped key for our encryption key."""


class UnknownSender(BundleError):
    """The bundle is signed by a key that is not among the trusted senders."""


class BundleReplayed(BundleError):
    """A bundle with this bundle ID was imported before; importing it again is refused."""


class StatisticsSuperseded(BundleReplayed):
    """A statistics bundle for a hotline and month as recent as this one, or more recent, was
    imported already: this one (late, or repeated under a new ID) changes nothing."""


class DeliveryError(ExportError):
    """A destination could not take a bundle."""


class DeliveryConflict(DeliveryError):
    """A different file already exists under the bundle's name at the destination."""


class DeliveryRefused(DeliveryError):
    """The destination answered with something no retry changes: a missing bucket, access
    denied, credentials it does not accept."""


class NoticeNotSent(DeliveryError):
    """The mail server did not take a takedown notice to an abuse contact (unreachable,
    timed out, refused a recipient or the message): the notice is sent again by the next run."""

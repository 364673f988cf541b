"""Media items and their sightings: items keyed by SHA-256, where each was seen, their
hashes, the items that fail, and the integrity checks (``store.MediaStore``; ``records``)."""

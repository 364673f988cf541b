"""Known-hash sets: the registry of sets, their matches and the automatic verdicts these
give, and the known rows held out of matching (``store.KnownSetStore``; ``records``)."""

"""The review and its decisions: the queue in clusters with leases, gradings, verdicts,
overrides, confirmations, reveals and the review rules (``store.ReviewStore``; ``records``)."""

"""Who acts: users, their web sessions and command-line tokens, and the append-only audit
log (``store.UserStore``; ``records``)."""

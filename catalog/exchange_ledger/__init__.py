"""The exchange with partners and INTERPOL: the partner registry, bundles received, the
ledger of exports, and evidence purges (``store.ExchangeStore``; ``records``)."""

"""hotline's application layer: the core of an installation, the services flows and commands
call on it, the command line and the demo.

One job: turn a data directory and a configuration into a running installation, and let an
operator drive it. Here, the core: ``settings`` (the one ``Settings`` object),
``installation`` (the data directory opened: catalog, evidence store, known sets, how media
are hashed and decisions made) and ``installation_keys``. Beside it ``services/`` (partner
exchange, the hashing stage, doctor, purge, backup, identity, decisions, files hashed by
hand), ``cli/`` (the ``hotline`` command) and ``demo/`` (the demo and its local sites).

The core and the services wire the library packages together (flows, spiders, hashing,
classification, exports, catalog, evidence); none of those imports hotline, except flows
(the settings, the installation and the services) and the review app (the installation).
"""

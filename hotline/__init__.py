"""hotline's application layer: the settings object, the installation's keys, the command line
and the demo.

One job: turn a data directory and a configuration into a running installation, and let an
operator drive it. It wires the library packages together (flows, spiders, hashing,
classification, exports, catalog, evidence); none of them imports it, except flows, which
read the settings.
"""

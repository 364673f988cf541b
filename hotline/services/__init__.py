"""What flows and commands call on an installation: the work that wires the library
packages to one data directory, its settings and its keys.

``partner_exchange``  routes of our bundles (INTERPOL, partners, hash sets), partners' bundles in
``abuse_notices``     takedown notices e-mailed to the abuse contacts of hosts no partner handles
``hashing_stage``     process-report's hashing of stored items, failures sorted and counted
``doctor``            ``hotline doctor``'s health checks
``evidence_purge``    evidence of items decided long ago deleted (hashes and verdicts stay)
``installation_backup``  ``hotline backup`` and ``hotline restore``
``identity``          who the command line acts as (``hotline login`` tokens, or the operator)
``decisions``         decisions made outside the review app (``hotline classify``), the law profiles
``file_hashing``      files hashed and matched by hand (``hotline hash``, ``hotline match``)
``box``               ``hotline up``: a single box's Prefect server, deployments, worker and review app
``supervisor``        processes run as one service: one log stream, restarts with backoff
``service_files``     the running service's pid, state and log files; how flow commands find its server

May import: the core (``hotline.settings``, ``hotline.installation``) and the library
packages; never the command line or the web app.
"""

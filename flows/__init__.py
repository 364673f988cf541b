"""Prefect flows: the pipeline's wiring, one flow per file.

One job: chain the library packages' plain functions into runs that Prefect schedules,
retries and records. No logic lives here that a test could not reach without Prefect.

May import: every hotline package. Imported by the command line and by Prefect deployments
(``prefect.yaml``).
"""

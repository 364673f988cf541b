"""The review configuration of an installation, from its settings."""

from __future__ import annotations

from datetime import timedelta

from classification import ClusteringConfig, ReviewConfig, load_profile_set
from hotline.settings import Settings


def review_config(settings: Settings) -> ReviewConfig:
    """Law profiles (baseline, the home country, ``law_profiles``), lease, priority and
    clustering, as the settings say (the review rules are the catalog's)."""
    return ReviewConfig(
        profiles=load_profile_set(settings.country, settings.law_profiles, [settings.law_profiles_dir],
                                  allow_baseline_override=settings.allow_interpol_profile),
        lease=timedelta(minutes=settings.review_lease_minutes),
        priority=tuple(settings.queue_priority),
        clustering=ClusteringConfig(pdq_threshold=settings.cluster_pdq_threshold),
    )

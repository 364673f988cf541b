"""The catalog's tables (SQLAlchemy Core). Documented in docs/catalog.md.

All times are UTC. Media are keyed by the SHA-256 of their bytes, so recording the same
media twice is harmless. ``audit_log`` is append-only: the database refuses UPDATE and
DELETE on it (triggers created by the migration).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

SHA256 = sa.String(64)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("source", sa.String(64), nullable=False, server_default="public"),
    sa.Column("referer", sa.Text),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("processed_at", sa.DateTime),
    sa.Column("error", sa.Text),
    sa.Index("ix_reports_status", "status"),
)

crawls = sa.Table(
    "crawls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("media", sa.Integer, nullable=False, server_default="0"),
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("stats", sa.JSON),
)

pages = sa.Table(
    "pages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("crawl_id", sa.Integer, sa.ForeignKey("crawls.id"), nullable=False, index=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("final_url", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("ip", sa.String(45)),
    sa.Column("country", sa.String(2)),
    sa.Column("content_type", sa.String(255)),
    sa.Column("size", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fetched_at", sa.DateTime),
    sa.Column("redirects", sa.JSON),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("sha256", SHA256, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("mime", sa.String(64)),
    sa.Column("size", sa.Integer, nullable=False),
    # new -> hashed -> known | queued -> classified | escalated (undetermined: a senior decides);
    # error when it cannot be hashed
    sa.Column("status", sa.String(16), nullable=False, server_default="new"),
    sa.Column("error", sa.Text),
    sa.Column("first_seen_at", sa.DateTime, nullable=False),
    sa.Column("hashed_at", sa.DateTime),
    sa.Index("ix_media_status", "status"),
)

sightings = sa.Table(
    "sightings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("crawl_id", sa.Integer, sa.ForeignKey("crawls.id"), nullable=False),
    sa.Column("media_url", sa.Text, nullable=False),
    sa.Column("page_url", sa.Text, nullable=False),
    sa.Column("ip", sa.String(45)),
    sa.Column("country", sa.String(2)),
    sa.Column("seen_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("sha256", "report_id", "media_url", name="uq_sightings"),
)

hashes = sa.Table(
    "hashes",
    metadata,
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), primary_key=True),
    sa.Column("algorithm", sa.String(64), primary_key=True),  # a hash and variant name: pdq_x_uncaptioned
    sa.Column("value", sa.String(128), nullable=False),
    sa.Column("quality", sa.Integer),
    sa.Index("ix_hashes_value", "algorithm", "value"),
)

known_sets = sa.Table(
    "known_sets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text),
    sa.Column("verdict", sa.String(16)),  # None: the rows carry categories (migration 0017)
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("content_sha256", SHA256, nullable=False),
    sa.Column("pdq_threshold", sa.Integer, nullable=False, server_default="31"),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("imported_at", sa.DateTime, nullable=False),
)

matches = sa.Table(
    "matches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("set_name", sa.String(64), nullable=False),
    sa.Column("match_type", sa.String(16), nullable=False),
    sa.Column("distance", sa.Integer, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("known_id", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("matched_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("sha256", "set_name", "match_type", name="uq_matches"),
)

verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # analyst | known-set
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("set_name", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

report_errors = sa.Table(
    "report_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("sha256", SHA256),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

exports = sa.Table(
    "exports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bundle_id", sa.String(32), nullable=False, unique=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("sha256", SHA256, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

export_items = sa.Table(
    "export_items",
    metadata,
    sa.Column("export_id", sa.Integer, sa.ForeignKey("exports.id"), nullable=False, index=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), nullable=False),
    sa.UniqueConstraint("destination", "sha256", name="uq_export_items"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_audit_action", "action"),
)

# Takedown tracking (issues 4 and 7): each re-check of a URL where confirmed material was seen.
rechecks = sa.Table(
    "rechecks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), index=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("checked_at", sa.DateTime, nullable=False),
    # still-up (same SHA-256) | changed (other content) | missing (404/410, NXDOMAIN) | removed
    # (missing at recheck_removed_after consecutive checks)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Index("ix_rechecks_url_checked", "url", "checked_at"),
)

# Crawl evidence (migration 0004): how a report is replayed, how each page was seen,
# and each media URL's own fetch (final URL, redirects, status, claimed type, headers).
reports.append_column(sa.Column("pathway", sa.JSON))  # URLs the reporter went through, in order
reports.append_column(sa.Column("user_agent", sa.Text))  # the reporter's browser
pages.append_column(sa.Column("view", sa.String(16)))  # direct | pathway | step
pages.append_column(sa.Column("referer", sa.Text))  # the Referer header sent
pages.append_column(sa.Column("headers", sa.JSON))  # response headers that matter
sightings.append_column(sa.Column("final_url", sa.Text))
sightings.append_column(sa.Column("redirects", sa.JSON))
sightings.append_column(sa.Column("http_status", sa.Integer))
sightings.append_column(sa.Column("content_type", sa.String(255)))
sightings.append_column(sa.Column("headers", sa.JSON))

# Secure exchange: partner hotlines, bundles received from them (replay protection),
# and explicit re-send requests on the export ledger.
partners = sa.Table(
    "partners",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("countries", sa.JSON, nullable=False),  # ISO 3166 codes the partner handles
    sa.Column("encryption_key", sa.String(44), nullable=False),  # base64 raw X25519 public key
    sa.Column("signing_keys", sa.JSON, nullable=False),  # base64 raw Ed25519 public keys, oldest first
    sa.Column("destination", sa.Text, nullable=False),  # directory path or s3://bucket/prefix
    sa.Column("endpoint_url", sa.Text),  # S3 endpoint (None: the AWS default)
    sa.Column("media", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("hash_sets", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("added_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

inbound_bundles = sa.Table(
    "inbound_bundles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bundle_id", sa.String(32), index=True),  # None when refused before it could be read
    sa.Column("partner", sa.String(64)),
    sa.Column("location", sa.Text, nullable=False),  # where it was picked up
    sa.Column("sha256", SHA256, nullable=False),  # of the bundle file
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # imported | refused
    sa.Column("reason", sa.Text),
    sa.Column("summary", sa.JSON),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_inbound_location", "location", "sha256"),
)

export_resends = sa.Table(
    "export_resends",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("bundle_id", sa.String(32)),  # the bundle that re-sent it; None while pending
    sa.Column("sent_at", sa.DateTime),
    sa.Index("ix_export_resends_open", "destination", "bundle_id"),
)

# Retention (migration 0008): when an item's evidence was purged (hashes and verdicts stay).
media.append_column(sa.Column("purged_at", sa.DateTime))
# Faults (migration 0009): runs that failed transiently on an item (storage
# unreachable); at the installation's quarantine_after the item becomes status 'error'.
media.append_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))

# Review queue (migration 0005): people who log in and their sessions, clusters of
# near-duplicate queued items with one lease each, gradings (attributes, append-only), the
# verdicts derived per jurisdiction, and four-eyes confirmations.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # analyst | senior | operator | statistician | admin
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, with its parameters
    sa.Column("blur", sa.Integer),  # thumbnail blur strength; None: the installation's default
    sa.Column("reveal_budget", sa.Integer),  # reveals a day; None: the installation's default
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_sha256", SHA256, primary_key=True),  # the cookie's token is never stored
    sa.Column("user_name", sa.String(128), sa.ForeignKey("users.name"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

clusters = sa.Table(
    "clusters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # image | video
    sa.Column("representative", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("signature", sa.String(128)),  # the representative's PDQ; None: nothing joins it
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),  # open | decided
    sa.Column("waiting", sa.Integer, nullable=False, server_default="0"),  # items still queued in it
    sa.Column("novel", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("similar_to", SHA256),  # nearest already-decided item, when not novel
    sa.Column("oldest_report_at", sa.DateTime),
    sa.Column("first_seen_at", sa.DateTime, nullable=False),
    sa.Column("split_from", sa.Integer),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("decided_at", sa.DateTime),
    sa.Index("ix_clusters_status", "status", "novel", "oldest_report_at"),
)

cluster_members = sa.Table(
    "cluster_members",
    metadata,
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), primary_key=True),
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), nullable=False, index=True),
    sa.Column("distance", sa.Integer),  # PDQ distance to the representative
    sa.Column("joined_at", sa.DateTime, nullable=False),
)

cluster_leases = sa.Table(
    "cluster_leases",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("claimed_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

gradings = sa.Table(
    "gradings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("cluster_id", sa.Integer),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("age_group", sa.String(16), nullable=False),
    sa.Column("genders", sa.JSON, nullable=False),
    sa.Column("depiction", sa.String(16), nullable=False),
    sa.Column("sexual_activity", sa.Boolean, nullable=False),
    sa.Column("genital_focus", sa.Boolean, nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("self_generated", sa.Boolean),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

jurisdiction_verdicts = sa.Table(
    "jurisdiction_verdicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("jurisdiction", sa.String(16), nullable=False),  # INTERPOL | ISO 3166 code
    sa.Column("illegal", sa.Boolean, nullable=False),
    sa.Column("grading_id", sa.Integer, sa.ForeignKey("gradings.id")),
    sa.Column("profile", sa.String(64), nullable=False),
    sa.Column("profile_sha256", SHA256, nullable=False),
    sa.Column("rule", sa.Text),
    sa.Column("source", sa.String(16), nullable=False),  # derived | override
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_jurisdiction_verdicts_item", "sha256", "jurisdiction"),
)

verdicts.append_column(sa.Column("grading_id", sa.Integer))  # the grading it was derived from
verdicts.append_column(sa.Column("confirm_required", sa.Boolean))  # four-eyes: exportable once confirmed
verdicts.append_column(sa.Column("basis", sa.String(16)))  # grading (derived) | hand (set with a reason)

confirmations = sa.Table(
    "confirmations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), nullable=False, unique=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
# (end of the review queue's tables)

# Hashing and matching (migration 0003): per-frame PDQ of videos and animated
# images, and per known set a category -> verdict mapping, a known-benign flag and the
# format it was imported from.
frame_hashes = sa.Table(
    "frame_hashes",
    metadata,
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),  # frame number among the samples
    sa.Column("t", sa.Float, nullable=False),  # seconds from the start
    sa.Column("pdq", sa.String(64), nullable=False),
    sa.Column("quality", sa.Integer, nullable=False),
)
# Other views of a video's frames (migration 0021): null for the frame as sampled,
# ``mirrored`` and ``uncut`` (see ``hashing.frames.VIEWS``), numbered on after those.
frame_hashes.append_column(sa.Column("view", sa.String(16)))
known_sets.append_column(sa.Column("category_verdicts", sa.JSON))
known_sets.append_column(sa.Column("benign", sa.Boolean, nullable=False, server_default=sa.false()))
known_sets.append_column(sa.Column("format", sa.String(16)))

# Known sets you can trust (migration 0017): the category profile a set's categories follow
# and whether its rows carry categories; what produced each match and automatic verdict;
# automatic verdicts withdrawn (the item went back to review); verdicts the old category
# rule produced, found by the migration; known rows held out of matching (quarantined for
# flooding, or contested by a senior analyst) and the feedback owed to the set's source.
known_sets.append_column(sa.Column("category_profile", sa.String(64)))
known_sets.append_column(sa.Column("categorized", sa.Boolean))  # None: registered before it was recorded
matches.append_column(sa.Column("provenance", sa.JSON))
matches.append_column(sa.Column("row_key", sa.Text))  # the known row, as holds name it (flood counts)
sa.Index("ix_matches_row", matches.c.set_name, matches.c.row_key, matches.c.matched_at)
verdicts.append_column(sa.Column("provenance", sa.JSON))  # automatic verdicts: set, version, row, category, match

verdict_withdrawals = sa.Table(
    "verdict_withdrawals",
    metadata,
    sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), primary_key=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

known_rechecks = sa.Table(
    "known_rechecks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), nullable=False, unique=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("set_name", sa.String(64), nullable=False),
    sa.Column("category", sa.Text),  # None: a row without a category in a set with categories
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("found_at", sa.DateTime, nullable=False),
    sa.Column("resolved_at", sa.DateTime),  # sent back to review
    sa.Column("resolved_by", sa.String(128)),
)

known_holds = sa.Table(
    "known_holds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("set_name", sa.String(64), nullable=False),
    sa.Column("row_key", sa.Text, nullable=False),  # "<md5|sha1|sha256|pdq>:<hex>" or "id:<known id>"
    sa.Column("kind", sa.String(16), nullable=False),  # quarantine | contested
    sa.Column("sha256", SHA256),  # contested: the item the match was wrong for
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("released_at", sa.DateTime),
    sa.Column("released_by", sa.String(128)),
    sa.Column("feedback_sent", sa.Text),  # contested: the bundle or file that told the set's source
    sa.Index("ix_known_holds_set", "set_name", "released_at"),
)

# Locations (migration 0016): the page's host beside the media's, and an export ledger per
# (item, location), so that a new location of an item sent before is notified too.
sightings.append_column(sa.Column("page_host", sa.String(253)))
sightings.append_column(sa.Column("page_ip", sa.String(45)))
sightings.append_column(sa.Column("page_country", sa.String(2)))

export_locations = sa.Table(
    "export_locations",
    metadata,
    sa.Column("export_id", sa.Integer, sa.ForeignKey("exports.id"), nullable=False, index=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("location", SHA256, nullable=False),  # SHA-256 of media URL, newline, page URL
    sa.Column("media_url", sa.Text, nullable=False),
    sa.Column("page_url", sa.Text, nullable=False),
    sa.UniqueConstraint("destination", "sha256", "location", name="uq_export_locations"),
)
# Verdict integrity (migration 0015): review rules are the installation's (stored here, not
# in each process's settings), command-line login tokens, undetermined outcomes.
review_rules = sa.Table(
    "review_rules",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # four_eyes
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=False),
)

cli_tokens = sa.Table(
    "cli_tokens",
    metadata,
    sa.Column("token_sha256", SHA256, primary_key=True),  # the token stays in the user's token file
    sa.Column("user_name", sa.String(128), sa.ForeignKey("users.name"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime, nullable=False),
)
jurisdiction_verdicts.append_column(
    sa.Column("undetermined", sa.Boolean, nullable=False, server_default=sa.false()))  # hangs on "unclear"
verdicts.append_column(sa.Column("baseline_profile_sha256", SHA256))  # the INTERPOL profile it was derived under

# Evidence that could not be stored during a crawl (migration 0013): a media URL found on a
# page whose bytes the evidence store refused (full disk, storage outage). The report stays
# open and the next run fetches the URL again; only a stored copy or a permanent answer
# from the site (404, 410, a limit) settles the row.
pending_media = sa.Table(
    "pending_media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("media_url", sa.Text, nullable=False),
    sa.Column("page_url", sa.Text, nullable=False),
    # pending -> stored (a later run stored it) | closed (a permanent answer; reason says which)
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("stage", sa.String(16), nullable=False),  # evidence: the store failed; crawl: the fetch did
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("first_failed_at", sa.DateTime, nullable=False),
    sa.Column("last_failed_at", sa.DateTime, nullable=False),
    sa.Column("settled_at", sa.DateTime),
    sa.UniqueConstraint("report_id", "media_url", "page_url", name="uq_pending_media"),
    sa.Index("ix_pending_media_status", "status"),
)

# Runs and their claims (migration 0012): each process-report run holds a lease that it
# renews while it works; the reports it claimed stay its own until it ends or the lease
# expires (its process died), and then the next run takes them.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the Prefect flow run ID, or a generated one
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),  # the lease: renewed while the run works
    sa.Column("ended_at", sa.DateTime),  # the run let go of its claims
    sa.Column("settled_at", sa.DateTime),  # Prefect's record of the ended or dead run was checked
    sa.Column("summary", sa.JSON),  # what the run did, as it reported it when it ended
    sa.Column("progress", sa.JSON),  # where each stage stands, written while the run works
    sa.Index("ix_runs_settled_at", "settled_at"),
)
reports.append_column(sa.Column("claimed_by", sa.String(64), index=True))  # runs.id of the last claim

# Intake: the URL identity of a report (spiders.urls.normalise_url), the earlier report a
# repeated URL is linked to instead of being crawled again, and the reporter's reference.
reports.append_column(sa.Column("url_key", sa.Text))
reports.append_column(sa.Column("linked_to", sa.Integer, sa.ForeignKey("reports.id", name="fk_reports_linked_to")))
reports.append_column(sa.Column("reporter_ref", sa.String(200)))
sa.Index("ix_reports_url_key", reports.c.url_key, reports.c.received_at)

intake_requests = sa.Table(
    "intake_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client", sa.String(128), nullable=False),  # the intake client's user name
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),  # the same key with another body is refused
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),  # the answer given, given again
    sa.Column("at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("client", "idempotency_key", name="uq_intake_requests_key"),
)
# The network view (migration 0026). What partners told us they investigate and decided,
# as keyed hashes only (a list per partner, replaced whole by each list it sends).
partner_list_entries = sa.Table(
    "partner_list_entries",
    metadata,
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # url | media
    sa.Column("digest", sa.String(32), nullable=False),  # HMAC under the partnership's key, hex of 16 bytes
    sa.Column("case_ref", sa.String(64)),  # the partner's reference (its report ID)
    sa.Column("state", sa.String(16)),  # url: the partner's report status
    sa.Column("verdict", sa.String(16)),  # media: the partner's verdict
    sa.Column("since", sa.DateTime, nullable=False),
    sa.UniqueConstraint("partner", "kind", "digest", name="uq_partner_list_entries"),
)

# Our reports and items a partner's list names: a report linked to the partner's case (not
# crawled unless the operator asks), an item with the partner's verdict shown.
partner_handled = sa.Table(
    "partner_handled",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), index=True),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), index=True),
    sa.Column("case_ref", sa.String(64)),
    sa.Column("state", sa.String(16)),
    sa.Column("verdict", sa.String(16)),
    sa.Column("since", sa.DateTime, nullable=False),
    sa.Column("found_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("partner", "report_id", name="uq_partner_handled_report"),
    sa.UniqueConstraint("partner", "sha256", name="uq_partner_handled_item"),
)

# Items sent to a destination as new material (no known set nor partner had them), and the
# bundle that told it of a later match.
escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("bundle_id", sa.String(32), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    sa.Column("update_bundle_id", sa.String(32)),
    sa.Column("updated_at", sa.DateTime),
    sa.UniqueConstraint("destination", "sha256", name="uq_escalations"),
)
reports.append_column(sa.Column("crawl_anyway", sa.Boolean))  # crawl even if a partner handles the URL
# Corrections and re-notices (migration 0024): each new verdict of an exported item told to
# a destination that had it (a correction, or a retraction when the verdict is not
# exportable), and re-notices of items still up.
export_corrections = sa.Table(
    "export_corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("export_id", sa.Integer, sa.ForeignKey("exports.id"), nullable=False, index=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), nullable=False),  # the verdict told
    sa.Column("previous", sa.String(16), nullable=False),  # the verdict the destination had
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # correction | retraction | withdrawal
    sa.Column("sent_at", sa.DateTime, nullable=False),
    # a verdict told by a correction may later be withdrawn: the withdrawal names it too
    sa.UniqueConstraint("destination", "verdict_id", "action", name="uq_export_corrections"),
    sa.Index("ix_export_corrections_item", "destination", "sha256"),
)
# A re-notice is a re-send (``export_resends``) of an item still up to a partner: which notice
# it is (the first bundle is notice 1), and whether it is escalated.
takedown_notices = sa.Table(
    "takedown_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resend_id", sa.Integer, sa.ForeignKey("export_resends.id"), nullable=False, unique=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), nullable=False),
    sa.Column("notice", sa.Integer, nullable=False),
    sa.Column("escalated", sa.Boolean, nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Index("ix_takedown_notices_item", "destination", "sha256"),
)
# Review clustering that follows the picture (migration 0020): the compact local features
# queued pictures are compared by (keypoint positions and binary descriptors; never pixels),
# and why each item joined its cluster, or a cluster matched an item already decided.
media_features = sa.Table(
    "media_features",
    metadata,
    sa.Column("sha256", SHA256, sa.ForeignKey("media.sha256"), primary_key=True),
    sa.Column("width", sa.Integer, nullable=False),  # of the grey copy the points are in
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("points", sa.LargeBinary, nullable=False),  # float16 x, y per keypoint
    sa.Column("descriptors", sa.LargeBinary, nullable=False),  # 32 bytes per keypoint (ORB)
)
cluster_members.append_column(sa.Column("evidence", sa.JSON(none_as_null=True)))  # stage, variant, distance or inliers, matched
clusters.append_column(sa.Column("similar_evidence", sa.JSON(none_as_null=True)))  # how it matched ``similar_to``
# A partner's grading of an item it decided (migration 0030): attributes only, so that our
# law profiles derive our verdict from it; null when the partner set the verdict by hand.
partner_list_entries.append_column(sa.Column("grading", sa.JSON(none_as_null=True)))
partner_handled.append_column(sa.Column("grading", sa.JSON(none_as_null=True)))

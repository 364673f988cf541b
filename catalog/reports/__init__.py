"""Reports and crawls: reported URLs, the runs that claim them, what each crawl fetched, the
items not stored yet and the re-checks of URLs (``store.ReportStore``; ``records``)."""

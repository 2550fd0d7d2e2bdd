"""The dashboards stage: published asv sites (what ``asv publish`` writes) into the raw schema.

``layout`` works out every file a site's ``index.json`` promises (the dialect path rules and the
document checks), ``crawl`` fetches them, ``load`` writes them to ``raw.dashboard_files`` /
``raw.dashboard_missing`` / ``raw.dashboard_crawls``, and ``ddl`` declares those tables. This module
is the stage's public API: the names other packages import.
"""

from ingest.dashboards.crawl import crawl_dashboard
from ingest.dashboards.ddl import DASHBOARD_DDL
from ingest.dashboards.layout import KINDS, promised_files, series_path, site_layout
from ingest.dashboards.load import URL_CREDENTIALS, DashboardUnreadable, ingest_dashboard_source

__all__ = [
    "DASHBOARD_DDL",
    "KINDS",
    "URL_CREDENTIALS",
    "DashboardUnreadable",
    "crawl_dashboard",
    "ingest_dashboard_source",
    "promised_files",
    "series_path",
    "site_layout",
]

"""`python bench/dashboards.py`: crawling a published asv dashboard over HTTP, against a sequential scraper.

A local threaded HTTP server (tests/dashboard_server.py) serves $DATASMITH_FIXTURES/dashboards/numpy-full
with a fixed latency added to every response, in the handler's own thread (so concurrent requests wait
side by side, as they would on a real host), and answers If-None-Match with 304. Printed, not asserted:
  * baseline: what the original scraper did: index.json, info.json, then every URL the index promises
    (the same list ingest.dashboards derives), one at a time with a plain httpx.Client, no retries,
    no cache, nothing stored;
  * ours: ingest.dashboards.ingest_dashboard_source into a fresh DuckDB warehouse (fetch + validate +
    load), first with N connections per host, then again on the same warehouse (conditional requests);
  * optionally ours with 1 connection per host, to tell the effect of concurrency from the rest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()


def latency_server(root: Path, latency_s: float):
    """The tests' DashboardServer (ThreadingHTTPServer, keep-alive, ETag = sha256, 304s, a request
    log), with every response delayed by ``latency_s``. The sleep runs in the handler's thread, one
    per connection, so it delays each request without serialising them."""
    from tests.dashboard_server import DashboardServer, _Handler

    class SlowHandler(_Handler):
        def do_GET(self) -> None:
            time.sleep(latency_s)
            super().do_GET()

    server = DashboardServer(root)
    server._server.RequestHandlerClass = SlowHandler
    return server


def sequential_baseline(base: str) -> tuple[int, int, Counter, float]:
    """The original scraper: one URL after another on one keep-alive connection. Returns files
    fetched, bytes, status codes and seconds."""
    import httpx

    from ingest.dashboards import promised_files, site_layout
    from ingest.http import join_url

    statuses: Counter = Counter()
    files = size = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30.0) as client:

        def get(url: str) -> httpx.Response:
            nonlocal files, size
            response = client.get(url)
            statuses[response.status_code] += 1
            files += 1
            size += len(response.content)
            return response

        index = get(join_url(base, "index.json")).json()
        has_info = get(join_url(base, "info.json")).status_code == 200
        for file in promised_files(site_layout(index, has_info)):
            get(join_url(base, file.relative_path))
    return files, size, statuses, time.perf_counter() - started


def ours(db: Path, name: str, url: str, policy) -> tuple[object, float]:
    from ingest.dashboards import ingest_dashboard_source
    from ingest.sources import DashboardSource
    from ingest.warehouse import connect_writer

    with connect_writer(db) as con:
        started = time.perf_counter()
        report = ingest_dashboard_source(con, DashboardSource(name, url), policy=policy)
        seconds = time.perf_counter() - started
    return report, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dashboard", default="numpy-full", help="folder under $DATASMITH_FIXTURES/dashboards")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--connections", type=int, default=4, help="max connections per host for ours")
    parser.add_argument(
        "--skip-single", action="store_true", help="skip the run of our crawler at 1 connection per host"
    )
    args = parser.parse_args()
    site = FIXTURES / "dashboards" / args.dashboard
    if not (site / "index.json").exists():
        print(f"bench: no dashboard at {site} (set DATASMITH_FIXTURES)")
        return 2

    from ingest.http import FetchPolicy

    # Politeness caps (requests per second, connections per host) are configuration: the defaults are
    # for someone else's GitHub Pages site, and at requests_per_second=20 the ~830 files here would take
    # >= 41 s whatever the mechanism. The bench measures the mechanism (concurrency, keep-alive,
    # conditional requests, loading while fetching), so the rate cap is off and only the connection
    # cap is set; robots.txt is still honoured (the server answers it with a 404).
    policy = FetchPolicy(max_connections_per_host=args.connections, requests_per_second=None)
    single = FetchPolicy(max_connections_per_host=1, requests_per_second=None)
    work = Path(tempfile.mkdtemp(prefix="datasmith-bench-dashboards-"))
    try:
        with latency_server(site, args.latency_ms / 1000) as server:
            url = server.url("/")
            print(f"server: {url} serving {site} with {args.latency_ms:.0f} ms latency per response")
            shown = {k: v for k, v in asdict(policy).items() if k != "user_agent"}
            print(f"policy: {shown}")

            server.clear()
            files, size, statuses, seq_seconds = sequential_baseline(url)
            print(f"baseline statuses: {dict(statuses)}")

            server.clear()
            first, first_seconds = ours(work / "first.duckdb", args.dashboard, url, policy)
            first_statuses, first_in_flight = server.statuses(), server.state.max_in_flight
            print(f"ours (first):  {first.summary()}; statuses {dict(first_statuses)}")

            server.clear()
            cached, cached_seconds = ours(work / "first.duckdb", args.dashboard, url, policy)
            cached_statuses = server.statuses()
            print(f"ours (cached): {cached.summary()}; statuses {dict(cached_statuses)}")

            single_seconds = None
            if not args.skip_single:
                server.clear()
                one, single_seconds = ours(work / "single.duckdb", args.dashboard, url, single)
                print(f"ours (1 conn): {one.summary()}; max in flight {server.state.max_in_flight}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"dashboard: {args.dashboard}: {files} files, {size:,} bytes (baseline)")
    print(
        f"ours: {first.requests} requests (incl. robots.txt), {first.bytes_downloaded:,} bytes, "
        f"{first.total_loaded} files loaded, {first.missing} missing, {first.retries} retries, "
        f"max {first_in_flight} requests in flight at the server"
    )
    print()
    print(f"{'step':<52} {'seconds':>8} {'files/s':>9}")
    print(f"{'sequential httpx.Client (baseline, fetch only)':<52} {seq_seconds:>8.2f} {files / seq_seconds:>9.1f}")
    label = f"ours, {args.connections} conn/host, first run (fetch + load)"
    print(f"{label:<52} {first_seconds:>8.2f} {first.requests / first_seconds:>9.1f}")
    label = "ours, cached re-run (conditional requests)"
    print(f"{label:<52} {cached_seconds:>8.2f} {cached.requests / cached_seconds:>9.1f}")
    if single_seconds is not None:
        label = "ours, 1 conn/host (fetch + load)"
        print(f"{label:<52} {single_seconds:>8.2f} {one.requests / single_seconds:>9.1f}")
    print()
    print(
        f"speed-up, sequential / ours:       {seq_seconds / first_seconds:6.2f}x  "
        f"(target >= 3.5x with {args.connections} connections per host)"
    )
    if single_seconds is not None:
        print(f"speed-up, sequential / ours 1 conn: {seq_seconds / single_seconds:6.2f}x  (concurrency excluded)")
    print(f"cached re-run / first run:         {cached_seconds / first_seconds:6.1%}  (target < 10%)")
    print(
        f"304s seen by the server (cached):  {cached_statuses.get(304, 0)} of "
        f"{sum(cached_statuses.values())} requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.dashboards`: crawling a published asv dashboard over HTTP, against a sequential scraper.

A local threaded HTTP server (tests/support/dashboard_server.py) serves $DATASMITH_FIXTURES/dashboards/numpy-full
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
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()


class InFlight:
    """Requests being answered at once, latency included (the test server counts after it), and
    the client connections seen. A request counts until its handler returns, a moment after the
    client has its response, so the maximum may show one more than the client had on the wire."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.max = 0
        self.clients: set[tuple] = set()

    def enter(self, client: tuple) -> None:
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)
            self.clients.add(client)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1

    def reset(self) -> None:
        with self.lock:
            self.max = self.now
            self.clients = set()


@dataclass
class Run:
    label: str
    connections: int
    seconds: float
    statuses: Counter  # as the server answered, robots.txt included
    max_in_flight: int
    client_connections: int
    result: Any

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def latency_server(root: Path, latency_s: float, in_flight: InFlight):
    """The tests' DashboardServer (ThreadingHTTPServer, keep-alive, ETag = sha256, 304s, a request
    log), with every response delayed by ``latency_s``. The sleep runs in the handler's thread, one
    per connection, so it delays each request without serialising them."""
    from tests.support.dashboard_server import DashboardServer, _Handler

    class SlowHandler(_Handler):
        def do_GET(self) -> None:
            in_flight.enter(self.client_address)
            try:
                time.sleep(latency_s)
                super().do_GET()
            finally:
                in_flight.leave()

    server = DashboardServer(root)
    server._server.RequestHandlerClass = SlowHandler
    return server


def sequential_baseline(base: str) -> tuple[int, int]:
    """The original scraper: one URL after another on one keep-alive connection, each body kept in
    memory and nothing else. Returns files fetched and bytes."""
    import httpx

    from ingest.dashboards import promised_files, site_layout
    from ingest.http import join_url

    files = size = 0
    with httpx.Client(timeout=30.0) as client:

        def get(url: str) -> httpx.Response:
            nonlocal files, size
            response = client.get(url)
            files += 1
            size += len(response.content)
            return response

        index = get(join_url(base, "index.json")).json()
        has_info = get(join_url(base, "info.json")).status_code == 200
        for file in promised_files(site_layout(index, has_info)):
            get(join_url(base, file.relative_path))
    return files, size


def ours(db: Path, name: str, url: str, policy):
    from ingest.dashboards import ingest_dashboard_source
    from ingest.sources import DashboardSource
    from tests.support.warehouse import connect_writer

    with connect_writer(db) as con:
        return ingest_dashboard_source(con, DashboardSource(name, url), policy=policy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dashboard", default="numpy-full", help="folder under $DATASMITH_FIXTURES/dashboards"
    )
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
    # for someone else's GitHub Pages site, and at the default requests_per_second=20 the ~1,100 files
    # here would take >= 55 s whatever the mechanism. The bench measures the mechanism (concurrency,
    # keep-alive, conditional requests, loading while fetching), so the rate cap is off and only the
    # connection cap is set; robots.txt is still fetched and honoured (the server answers 404).
    policy = FetchPolicy(max_connections_per_host=args.connections, requests_per_second=None)
    single = FetchPolicy(max_connections_per_host=1, requests_per_second=None)
    latency = args.latency_ms / 1000
    in_flight = InFlight()
    runs: dict[str, Run] = {}
    work = Path(tempfile.mkdtemp(prefix="datasmith-bench-dashboards-"))
    try:
        with latency_server(site, latency, in_flight) as server:
            url = server.url("/")
            print(f"server: {url} serving {site}, {args.latency_ms:.0f} ms latency per response")
            shown = {k: v for k, v in asdict(policy).items() if k != "user_agent"}
            print(f"policy: FetchPolicy({', '.join(f'{k}={v}' for k, v in shown.items())})")

            def run(key: str, label: str, connections: int, fn) -> Run:
                server.clear()
                in_flight.reset()
                started = time.perf_counter()
                result = fn()
                seconds = time.perf_counter() - started
                runs[key] = Run(
                    label,
                    connections,
                    seconds,
                    server.statuses(),
                    in_flight.max,
                    len(in_flight.clients),
                    result,
                )
                return runs[key]

            files, size = run(
                "baseline",
                "sequential httpx.Client (baseline, fetch only)",
                1,
                lambda: sequential_baseline(url),
            ).result
            db = work / "bench.duckdb"
            run(
                "first",
                f"ours, {args.connections} conn/host, first run (fetch + load)",
                args.connections,
                lambda: ours(db, args.dashboard, url, policy),
            )
            run(
                "cached",
                f"ours, {args.connections} conn/host, re-run (conditional requests)",
                args.connections,
                lambda: ours(db, args.dashboard, url, policy),
            )
            if not args.skip_single:
                run(
                    "single",
                    "ours, 1 conn/host, first run (fetch + load)",
                    1,
                    lambda: ours(work / "single.duckdb", args.dashboard, url, single),
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first, cached, baseline = runs["first"], runs["cached"], runs["baseline"]
    print(f"dashboard {args.dashboard}: {files} files (index, info and every promised file), {size:,} bytes")
    for key in ("first", "cached", "single"):
        if key in runs:
            print(f"  {key:<7} {runs[key].result.summary()}")
    print()
    # floor: what the latency alone costs, requests x latency / connections allowed; a 304 costs a
    # round trip like a 200. conns: client connections the server saw (keep-alive reuses them);
    # in flight: the most requests the server was answering at once (may read one high, see InFlight).
    print(
        f"{'run':<58} {'seconds':>8} {'requests':>8} {'floor s':>8} {'conns':>5} {'in flight':>9}  "
        "statuses at the server"
    )
    for r in runs.values():
        floor = r.requests * latency / r.connections
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items()))
        print(
            f"{r.label:<58} {r.seconds:>8.2f} {r.requests:>8} {floor:>8.2f} {r.client_connections:>5} "
            f"{r.max_in_flight:>9}  {statuses}"
        )
    print()
    print(
        f"speed-up, sequential / ours:         {baseline.seconds / first.seconds:6.2f}x  "
        f"(target >= 3.5x with {args.connections} connections per host)"
    )
    if "single" in runs:
        print(
            f"speed-up, sequential / ours 1 conn:  {baseline.seconds / runs['single'].seconds:6.2f}x  "
            "(the same, concurrency excluded)"
        )
    print(f"re-run / first run:                  {cached.seconds / first.seconds:6.1%}  (target < 10%)")
    print(
        f"304s seen by the server (re-run):    {cached.statuses.get(304, 0)} of {cached.requests} requests; "
        f"{cached.result.total_loaded} files stored again"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

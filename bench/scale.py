"""Scale benchmark (issue 14, items 2 and 6): warehouses of increasing size through `datasmith materialize`.

Every warehouse is built from the real fixture sets only. A size is reached by listing the same sets k
times under new source names (`<set>-<kind>-copy<i>`): every copy carries the real benchmark names, parameter
grids, noise and steps, and the warehouse holds about k times the measurements of one copy. Nothing is
invented; the copies differ only in their names.

Per size and stage it prints wall seconds, measurements per second, the peak RSS of the whole process tree
(`datasmith` and every child: dbt, detection's workers; psutil sampled every 0.25 s), the warehouse's size
on disk and the peak of DuckDB's spill directory (`<warehouse>.tmp`, sampled the same way); then the growth
exponent of each stage's time between consecutive sizes (log t2/t1 / log n2/n1).

Stages, each one `datasmith materialize --select ...` in a fresh process, in data order:
  ingest       the raw loaders and their staging/intermediate models (groups sources, results, dashboards)
  measurements fct_measurements, dim_series, fct_series_points ... (group measurements)
  detection    detection/breakpoints and detection/skipped_series (a full run: the warehouse is new)
  marts        the rest of group detection (fct_change_points, fct_replication, the plots)
  dataset      group dataset (tasks, commit reports, the export)

    python -m bench.scale --sizes 1M 10M 50M          # sizes in measurements (k = 1,000, M = 1,000,000)
    python -m bench.scale --shapes 8                  # few long vs many short series, same points
    python -m bench.scale --dashboard-site 18         # a pandas-sized dashboard site: crawl + its models

Without --sizes or --copies it runs `--sizes 1M 2M`: one and two copies of the default sets (936,292
measurements a copy); the 1M build took 21 minutes on the 2-core machine under a load of 7-11.
(`make bench` passes its own `--sets results/django dashboards/numpy-trimmed --copies 1 2 4`.) 10M and
50M take hours.

--shapes K builds the same points twice from `results/django`: "short" lists its result files K times
under new machine names (K x the series, each as long as the original), "long" K times under new commit
hashes with the dates shifted past the previous copy's last commit (the original series, each K x as
long). Both hold the same measurements; the bench prints each stage's time ratio long/short (target:
within 1.5x, i.e. nothing grows faster than linearly with series length).

--dashboard-site K writes a site from `dashboards/numpy-full` with its machines listed K times under new
names (each machine's series files copied byte for byte under `machine-<name>-c<i>`), serves it with the
tests' local HTTP server (tests/support/dashboard_server.py, ETags, keep-alive) and materialises the
dashboards stage over it (groups sources and dashboards: the crawl, the raw tables, the dashboard
models), with the crawler's default politeness. It prints the files, bytes, wall time, the process
tree's peak RSS and the most requests the server had in flight at once (the per-host cap).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psutil
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()
REPOS = {
    "django": "django/django",
    "numpy": "numpy/numpy",
    "numpy-trimmed": "numpy/numpy",
    "numpy-full": "numpy/numpy",
    "scipy-trimmed": "scipy/scipy",
    "sympy": "sympy/sympy",
    "conda": "conda/conda",
    "photutils": "astropy/photutils",
    "sympy-v1": "sympy/sympy",
}
DEFAULT_SETS = ["results/django", "results/numpy", "dashboards/django", "dashboards/numpy-trimmed"]
PER_COPY = 936_292
"""Measurements of one copy of DEFAULT_SETS (measured: fct_measurements of a warehouse of the four sets)."""
STAGES = (
    ("ingest", ["--select", "group:sources or group:results or group:dashboards"]),
    ("measurements", ["--select", "group:measurements"]),
    ("detection", ["--select", "key:detection/breakpoints or key:detection/skipped_series"]),
    ("marts", ["--select", "group:detection"]),
    ("dataset", ["--select", "group:dataset"]),
)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: a number with an optional k or M (1M, 300k)")
    return int(float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()])


def write_sources(folder: Path, sets: list[str], copies: int) -> Path:
    document: dict[str, list] = {"results": [], "dashboards": []}
    for kind_and_name in sets:
        kind, name = kind_and_name.split("/", 1)
        path = FIXTURES / kind / name
        if not path.exists():
            sys.exit(f"bench/scale.py: fixture set {path} not found (set DATASMITH_FIXTURES)")
        for i in range(1, copies + 1):
            entry = {"name": f"{name}-{kind}-copy{i}", "repo": REPOS.get(name, f"unknown/{name}")}
            if kind == "results":
                document["results"].append({**entry, "path": str(path)})
            else:
                document["dashboards"].append({**entry, "url": str(path)})
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


def run_stage(sources: Path, db: Path, extra: list[str], log: Path) -> dict:
    """Wall seconds, the process tree's peak RSS and the spill directory's peak of one `datasmith
    materialize`; exits (with the log's tail) when it fails."""
    command = [
        str(PROJECT_ROOT / ".venv" / "bin" / "datasmith"),
        "materialize",
        "--sources",
        str(sources),
        "--db",
        str(db),
        *extra,
    ]
    spill = Path(f"{db}.tmp")
    peak_rss = peak_spill = 0
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak_rss = max(peak_rss, _tree_rss(watched))
            if spill.exists():
                peak_spill = max(peak_spill, _dir_size(spill))
            time.sleep(0.25)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        sys.exit(f"bench/scale.py: {' '.join(command)} exited {proc.returncode} (log {log}):\n{tail}")
    return {"wall": wall, "rss": peak_rss, "spill": peak_spill}


def counts(db: Path) -> tuple[int, int, int]:
    """(measurements, series, points) in the warehouse."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """select (select count(*) from main.fct_measurements),
                      (select count(*) from main.dim_series),
                      (select count(*) from main.fct_series_points)"""
        ).fetchone()
    except duckdb.CatalogException:
        return (0, 0, 0)
    finally:
        con.close()


HEADER = (
    f"{'build':>12} {'stage':<12} {'measurements':>12} {'wall s':>8} {'rows/s':>10} {'peak RSS':>9} "
    f"{'spill':>8} {'warehouse':>10}"
)


def build(label: str, folder: Path, sources: Path, stages: list[str]) -> list[dict]:
    """The stages (names of STAGES, in data order) over one sources file into a new warehouse in
    `folder`; prints a line a stage."""
    db = folder / "warehouse.duckdb"
    log = folder / "materialize.log"
    rows = []
    for stage, extra in STAGES:
        if stage not in stages:
            continue
        result = run_stage(sources, db, extra, log)
        size = db.stat().st_size if db.exists() else 0
        rows.append({"build": label, "stage": stage, "size": size, **result})
        print(f"  ({label}: {stage} done in {result['wall']:.1f} s)", flush=True)
    n, series, points = counts(db)
    for r in rows:  # rows/s of every stage over the build's measurements (known once it is built)
        r.update(n=n, series=series, points=points)
        print(
            f"{label:>12} {r['stage']:<12} {n:>12,} {r['wall']:>8.1f} {n / r['wall']:>10,.0f} "
            f"{r['rss'] / 2**30:>7.2f}G {r['spill'] / 2**30:>6.2f}G {r['size'] / 2**20:>8.0f}MB",
            flush=True,
        )
    total = sum(r["wall"] for r in rows)
    print(
        f"{label:>12} {'total':<12} {n:>12,} {total:>8.1f} {n / total:>10,.0f} "
        f"{max(r['rss'] for r in rows) / 2**30:>7.2f}G {max(r['spill'] for r in rows) / 2**30:>6.2f}G   "
        f"({series:,} series, {points:,} points)",
        flush=True,
    )
    return rows


def exponents(rows: list[dict]) -> None:
    print("\ngrowth exponent of each stage's time (log t2/t1 / log n2/n1):")
    builds = list(dict.fromkeys(r["build"] for r in rows))
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    for stage in [*stages, "total"]:
        points = []
        for b in builds:
            mine = [r for r in rows if r["build"] == b]
            wall = (
                sum(r["wall"] for r in mine)
                if stage == "total"
                else next(r["wall"] for r in mine if r["stage"] == stage)
            )
            points.append((mine[-1]["n"], wall))
        for (n1, t1), (n2, t2) in itertools.pairwise(points):
            if n2 > n1 > 0 and t1 > 0:
                print(f"  {stage:<12} {n1:>12,} -> {n2:>12,}: {math.log(t2 / t1) / math.log(n2 / n1):.2f}")


# --- series shapes: the same points as few long or many short series ----------------------------------


def shape_copy(source: Path, target: Path, copies: int, shape: str) -> None:
    """`results/<set>` listed `copies` times into `target`: under new machine names ("short") or under
    new commit hashes with every date shifted past the previous copy ("long"). File contents are the
    real ones; only the machine name, or the commit hash and date, change."""
    results = source / "results"
    files = sorted(p for p in results.glob("*/*.json") if p.name != "machine.json")
    dates = []
    for path in files:
        dates.append(json.loads(path.read_bytes()).get("date") or 0)
    span = (max(dates) - min(dates)) + 86_400_000 if dates else 0
    out_results = target / "results"
    out_results.mkdir(parents=True, exist_ok=True)
    shutil.copy(results / "benchmarks.json", out_results / "benchmarks.json")
    if (source / "asv.conf.json").exists():
        shutil.copy(source / "asv.conf.json", target / "asv.conf.json")
    for i in range(copies):
        for machine_dir in sorted(p for p in results.iterdir() if p.is_dir()):
            machine = machine_dir.name if shape == "long" else f"{machine_dir.name}-c{i}"
            folder = out_results / machine
            folder.mkdir(exist_ok=True)
            info = json.loads((machine_dir / "machine.json").read_bytes())
            info["machine"] = machine
            (folder / "machine.json").write_text(json.dumps(info))
            for path in sorted(machine_dir.glob("*.json")):
                if path.name == "machine.json":
                    continue
                doc = json.loads(path.read_bytes())
                name = path.name
                if isinstance(doc.get("params"), dict) and "machine" in doc["params"]:
                    doc["params"]["machine"] = machine
                if shape == "long" and i > 0:
                    old = doc["commit_hash"]
                    new = hashlib.sha1(f"{old}-copy{i}".encode()).hexdigest()
                    doc["commit_hash"] = new
                    doc["date"] = (doc.get("date") or 0) + i * span
                    name = new[:8] + name[len(old[:8]) :] if name.startswith(old[:8]) else f"{new[:8]}-{name}"
                (folder / name).write_text(json.dumps(doc))


def shapes(root: Path, copies: int, set_name: str, stages: list[str]) -> list[dict]:
    source = FIXTURES / "results" / set_name
    rows = []
    for shape in ("short", "long"):
        folder = root / f"shape-{shape}"
        data = folder / "data"
        if data.exists():
            shutil.rmtree(data)
        shape_copy(source, data, copies, shape)
        sources = folder / "sources.yml"
        sources.write_text(
            yaml.safe_dump(
                {
                    "results": [
                        {"name": f"{set_name}-{shape}", "repo": REPOS.get(set_name, "x/y"), "path": str(data)}
                    ]
                }
            )
        )
        rows += build(shape, folder, sources, stages)
    print("\nlong / short, each stage's time (target: within 1.5x):")
    for stage in stages:
        short = next(r for r in rows if r["build"] == "short" and r["stage"] == stage)
        long = next(r for r in rows if r["build"] == "long" and r["stage"] == stage)
        print(
            f"  {stage:<12} {long['wall'] / short['wall']:.2f}x   spill {long['spill'] / 2**20:.0f} MB vs "
            f"{short['spill'] / 2**20:.0f} MB   ({long['series']:,} series of ~{long['points'] // max(long['series'], 1)} "
            f"points vs {short['series']:,} of ~{short['points'] // max(short['series'], 1)})"
        )
    return rows


# --- a pandas-sized dashboard site ----------------------------------------------------------------------


def write_site(target: Path, copies: int, base: str = "numpy-full") -> tuple[int, int]:
    """`dashboards/<base>` with its machines listed `copies` times (the originals plus copies-1 new
    names): index.json's graph_param_list, machines and params name them, and each machine's series
    files are copied byte for byte under the new machine's folder. Returns (series files, bytes)."""
    source = FIXTURES / "dashboards" / base
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    index = json.loads((source / "index.json").read_bytes())
    machines = list(index["machines"])
    renamed = {(m, i): (m if i == 0 else f"{m}-c{i}") for m in machines for i in range(copies)}
    configs = []
    for i in range(copies):
        for config in index["graph_param_list"]:
            configs.append({**config, "machine": renamed[(config["machine"], i)]})
    index["graph_param_list"] = configs
    index["machines"] = {
        renamed[(m, i)]: {**index["machines"][m], "machine": renamed[(m, i)]}
        for i in range(copies)
        for m in machines
    }
    index["params"]["machine"] = sorted(set(renamed.values()))
    (target / "index.json").write_text(json.dumps(index))
    for name in ("info.json", "regressions.json"):
        if (source / name).exists():
            shutil.copy(source / name, target / name)
    files = total = 0
    for path in sorted((source / "graphs").rglob("*.json")):
        relative = path.relative_to(source).as_posix()
        parts = relative.split("/")
        machine = next((p[len("machine-") :] for p in parts if p.startswith("machine-")), None)
        if machine is None:  # summaries: one per benchmark, not per machine
            out = target / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, out)
            total += out.stat().st_size
            continue
        body = path.read_bytes()
        for i in range(copies):
            new = "/".join(
                f"machine-{renamed[(machine, i)]}" if p == f"machine-{machine}" else p for p in parts
            )
            out = target / new
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(body)
            files += 1
            total += len(body)
    return files, total


def dashboard_site(root: Path, copies: int) -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    from bench.dashboards import InFlight, latency_server

    site = root / "site" / "numpy-pandas-sized"
    files, size = write_site(site, copies)
    print(f"site: {files:,} series files, {size / 2**30:.2f} GiB of JSON ({copies} x numpy-full's machines)")
    in_flight = InFlight()
    server = latency_server(site.parent, 0.0, in_flight)
    with server:
        folder = root / "dashboard-site"
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "warehouse.duckdb"
        for leftover in (db, Path(f"{db}.wal")):
            leftover.unlink(missing_ok=True)
        sources = folder / "sources.yml"
        sources.write_text(
            yaml.safe_dump(
                {
                    "dashboards": [
                        {"name": "pandas-sized", "repo": "numpy/numpy", "url": server.url(site.name + "/")}
                    ]
                }
            )
        )
        print(f"{'stage':<12} {'wall s':>8} {'peak RSS':>9} {'spill':>8} {'warehouse':>10} {'in flight':>9}")
        # The dashboards stage only: the crawl, the raw tables and the dashboard models. (The measurements
        # they feed are the scale benchmark's business: 18 copies of numpy-full are ~43M of them.)
        for stage, extra in (("crawl+models", ["--select", "group:sources or group:dashboards"]),):
            in_flight.reset()
            result = run_stage(sources, db, extra, folder / "materialize.log")
            print(
                f"{stage:<12} {result['wall']:>8.1f} {result['rss'] / 2**30:>7.2f}G {result['spill'] / 2**30:>6.2f}G "
                f"{db.stat().st_size / 2**20:>8.0f}MB {in_flight.max:>9}",
                flush=True,
            )
    con = duckdb.connect(str(db), read_only=True)
    try:
        loaded, missing = con.execute(
            "select (select count(*) from raw.dashboard_files), (select count(*) from raw.dashboard_missing)"
        ).fetchone()
        models = con.execute(
            """select schema_name || '.' || table_name, estimated_size from duckdb_tables()
               where schema_name in ('staging', 'intermediate') and table_name like '%dashboard%'
               order by 1"""
        ).fetchall()
    finally:
        con.close()
    print(f"raw.dashboard_files {loaded:,} rows, raw.dashboard_missing {missing:,}")
    for name, rows in models:
        print(f"  {name}: {rows:,} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS, help="kind/name under the fixtures")
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=None, help="measurements: 1M 10M 50M")
    parser.add_argument(
        "--copies", nargs="+", type=int, default=None, help="copies of --sets (instead of --sizes)"
    )
    parser.add_argument("--per-copy", type=int, default=PER_COPY, help="measurements in one copy of --sets")
    parser.add_argument("--shapes", type=int, default=None, metavar="K", help="few long vs many short series")
    parser.add_argument("--shape-set", default="django", help="the results set --shapes copies")
    parser.add_argument(
        "--dashboard-site", type=int, default=None, metavar="K", help="numpy-full's machines K times"
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        default=[s for s, _ in STAGES],
        choices=[s for s, _ in STAGES],
        help="stages to run",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="datasmith-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"bench/scale.py: work in {root}; machine load {os.getloadavg()[0]:.1f}", flush=True)
    if args.dashboard_site:
        dashboard_site(root, args.dashboard_site)
        return 0
    if args.shapes:
        print(HEADER)
        shapes(root, args.shapes, args.shape_set, args.stages)
        return 0
    if args.copies:
        ladder = sorted(set(args.copies))
    else:
        sizes = args.sizes or [parse_size("1M"), parse_size("2M")]
        ladder = sorted({max(1, round(size / args.per_copy)) for size in sizes})
    print(HEADER)
    rows: list[dict] = []
    for copies in ladder:
        folder = root / f"copies-{copies}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        rows += build(f"{copies} copies", folder, write_sources(folder, args.sets, copies), args.stages)
    exponents(rows)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench.scale"
    sys.exit(main())

"""A hundred million users out of core: the DuckDB engine's ``checks dedup`` against DuckDB's bare read-and-dedup.

    flock /tmp/tm/heavy.lock .venv/bin/python benchmarks/hundred_million_users.py [--users 100000000]
        [--memory-limit 2.5GB] [--seed 7] [--keep DIR] [--data DIR] [--polars]

The in-memory engines return a ``FeedCheck`` whose deltas and deduplicated table are pandas frames
(about 12 GB at 100 M users); the DuckDB engine (``checks.engines.duckdb.deduplicate_feed_folder``)
keeps the rows on disk, with DuckDB's memory limit and a spill folder, and writes the deduplicated
table straight to Parquet and CSV as ``checks dedup`` does. This runs it end to end on a generated
feed (seeded: a base delta with every user and four updates of a quarter each, drawn in chunks so
that generating it is bounded too), then DuckDB's bare read-and-dedup of the same CSV (arg_max per
user into a table, as ``ten_million_users``) with the same memory limit, and with ``--polars`` the
Polars engine's in-memory check and write. Each runs in its own process; its peak memory is that
process's maximum resident set (ru_maxrss, itself and its children). Prints the times, the peaks,
the ratio to DuckDB and the load average. The feed lives outside the repository (a temporary folder
unless ``--keep``; ``--data`` reuses a kept one); the outputs and spill go to a folder beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DELTAS = 5
CHUNK = 5_000_000
BATCHES_PER_DELTA = 1500
BASELINE = "duckdb read-and-dedup"
MEASUREMENTS = (BASELINE, "duckdb engine: checks dedup", "polars engine: checks dedup")


def generate(directory: Path, users: int, seed: int) -> None:
    """Write the feed in chunks: valid, seeded, spend never falling, batch ids moving forward."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    feed = directory / "feed"
    feed.mkdir(parents=True, exist_ok=True)
    spend = rng.integers(0, 2_000, size=users, dtype="int64")
    for number in range(DELTAS):
        if number == 0:
            chosen = rng.permutation(users)
        else:
            chosen = rng.choice(users, size=users // 4, replace=False)
            spend[chosen] += rng.integers(0, 2_500, size=len(chosen), dtype="int64")
        first_batch = 0 if number == 0 else number * BATCHES_PER_DELTA + 1
        with open(feed / f"delta{number}.csv", "wb") as handle:
            for start in range(0, len(chosen), CHUNK):
                part = chosen[start:start + CHUNK]
                frame = pl.DataFrame({
                    "user_id": part + 1,
                    "total_spend": spend[part],
                    "count_saved_items": rng.integers(0, 50, size=len(part), dtype="int64"),
                    "loyalty_credits": rng.integers(0, 800, size=len(part), dtype="int64"),
                    "batch_id": rng.integers(first_batch, first_batch + BATCHES_PER_DELTA, size=len(part), dtype="int64"),
                })
                frame.write_csv(handle, include_header=start == 0)
        del chosen


def measure(name: str, feed: Path, work: Path, memory_limit: str) -> dict[str, object]:
    """Run one measurement in this process; what it found (to compare the runs by)."""
    out = work / "out"
    if name == BASELINE:
        import duckdb

        from checks.sample import COLUMNS

        connection = duckdb.connect(
            config={"memory_limit": memory_limit, "temp_directory": str(work / "spill"), "preserve_insertion_order": False}
        )
        connection.execute(
            "create table latest as select user_id, max(batch_id) as batch_id, "
            + ", ".join(f"arg_max({column}, batch_id) as {column}" for column in COLUMNS[1:4])
            + f" from read_csv('{feed}/delta*.csv') group by user_id"
        )
        users, spend = connection.execute("select count(*), sum(total_spend) from latest").fetchone()
        return {"users": users, "total_spend": int(spend)}
    if name == "duckdb engine: checks dedup":
        from checks.engines import get_engine

        seen = []
        result = get_engine("duckdb").deduplicate_feed_folder(
            feed, [out / "deduplicated.csv", out / "deduplicated.parquet"], memory_limit=memory_limit,
            spill_directory=work, on_file=lambda delta_file: seen.append((delta_file.name, time.perf_counter())),
        )
        return {
            "users": result.users, "total_spend": result.total_spend, "passed": result.passed,
            "failures": len(result.failures), "output_mb": round(sum(path.stat().st_size for path in result.outputs) / 1e6),
            "files_started_at": {name: round(at - STARTED, 1) for name, at in seen},
        }
    if name == "polars engine: checks dedup":
        from checks.engines import get_engine
        from checks.writers import atomic_write_frame

        result = get_engine("polars").check_feed_folder(feed)
        atomic_write_frame(out / "deduplicated.csv", result.deduplicated)
        atomic_write_frame(out / "deduplicated.parquet", result.deduplicated)
        return {
            "users": len(result.deduplicated), "total_spend": int(result.deduplicated["total_spend"].sum()),
            "passed": result.passed, "failures": len(result.failures),
        }
    raise ValueError(name)


STARTED = time.perf_counter()


def run_child(name: str, feed: Path, work: Path, memory_limit: str) -> dict[str, object]:
    """One measurement in a fresh process: its time, its peak memory and what it found."""
    load = os.getloadavg()[0]
    result = subprocess.run(
        [sys.executable, __file__, "--child", name, "--data", str(feed), "--work", str(work), "--memory-limit", memory_limit],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    found["load"] = f"{load:.2f} -> {os.getloadavg()[0]:.2f}"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000_000)
    parser.add_argument("--memory-limit", default=None, help="DuckDB's memory_limit (default: the engine's)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--data", type=Path, help="reuse a feed generated before (DIR/feed)")
    parser.add_argument("--polars", action="store_true", help="also run the Polars engine (needs the feed in memory)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        generate(args.data, args.users, args.seed)
        return
    if args.child:
        import resource

        found = measure(args.child, args.data, args.work, args.memory_limit)
        found["seconds"] = round(time.perf_counter() - STARTED, 1)
        peaks = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        found["peak_mb"] = round(max(peaks) / 1024)
        print(json.dumps(found))
        return

    if args.memory_limit is None:
        from checks.engines.duckdb import DEFAULT_MEMORY_LIMIT

        args.memory_limit = DEFAULT_MEMORY_LIMIT
    data = args.data or args.keep or Path(tempfile.mkdtemp(prefix="checks-hundred-million-"))
    temporary = None if (args.data or args.keep) else data
    # Beside the data, not in it: a kept feed folder stays as it was.
    work = Path(tempfile.mkdtemp(prefix="checks-hundred-million-work-", dir=data.parent))
    try:
        if args.data is None:
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", "generate", "--data", str(data), "--users",
                            str(args.users), "--seed", str(args.seed)], check=True, cwd=ROOT)
            print(f"generated {args.users:,} users in {time.perf_counter() - started:.0f} s into {data}")
        feed = data / "feed"
        size = sum(path.stat().st_size for path in feed.iterdir()) / 1e9
        print(f"feed {size:.2f} GB; cores {os.cpu_count()}; memory limit {args.memory_limit}", flush=True)
        names = [name for name in MEASUREMENTS if args.polars or not name.startswith("polars")]
        results = {}
        for name in names:
            results[name] = run_child(name, feed, work, args.memory_limit)
            shutil.rmtree(work / "out", ignore_errors=True)
            baseline = results[BASELINE]["seconds"]
            result = results[name]
            print(
                f"{name:32s} {result['seconds']:7.1f} s  peak {result['peak_mb'] / 1024:5.2f} GB"
                f"  {result['seconds'] / baseline:5.2f}x duckdb  (load {result['load']})"
                f"  {json.dumps({key: value for key, value in result.items() if key not in ('seconds', 'peak_mb', 'load')})}",
                flush=True,
            )
        answers = {(results[name]["users"], results[name]["total_spend"]) for name in names}
        print("same users and total spend in every run" if len(answers) == 1 else f"runs disagree: {answers}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Many small deltas: the per-file cost of each engine's feed check, against DuckDB reading the same files.

    .venv/bin/python benchmarks/many_small_deltas.py [--deltas 300] [--users 200000] [--engines pandas,polars] [--seed 7]

A feed of ``--users`` users in a base delta and ``--deltas - 1`` small updates (each a random
``1/deltas`` share of the users, so every file is small and the per-file work dominates), written
as CSV to a temporary folder outside the repository. Each engine's ``check_feed_folder`` and
DuckDB's bare read-and-dedup run in their own process; prints time, peak memory (ru_maxrss) and
the ratio to DuckDB's time in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(folder: Path, users: int, deltas: int, seed: int) -> None:
    import polars as pl

    from checks.sample import generate_feed

    folder.mkdir(parents=True, exist_ok=True)
    for delta in generate_feed(users, deltas, seed=seed, update_share=1.0 / deltas):
        pl.from_pandas(delta.frame.reset_index(drop=True)).write_csv(folder / delta.name)


def measure(name: str, folder: Path) -> dict[str, object]:
    if name == "duckdb":
        import duckdb

        users, spend = duckdb.connect().execute(
            "select count(*), sum(total_spend) from (select arg_max(total_spend, batch_id) as total_spend "
            f"from read_csv('{folder}/delta*.csv') group by user_id)"
        ).fetchone()
        return {"users": users, "total_spend": int(spend)}
    from checks.engines import get_engine

    result = get_engine(name).check_feed_folder(folder)
    return {"users": len(result.deduplicated), "total_spend": int(result.deduplicated["total_spend"].sum()),
            "passed": result.passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=300)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--engines", default="pandas,polars")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        generate(args.folder, args.users, args.deltas, args.seed)
        return
    if args.child:
        started = time.perf_counter()
        found = measure(args.child, args.folder)
        print(json.dumps({"seconds": time.perf_counter() - started, "found": found,
                          "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
        return

    data = Path(tempfile.mkdtemp(prefix="checks-many-small-deltas-"))
    try:
        folder = data / "feed"
        subprocess.run([sys.executable, __file__, "--child", "generate", "--folder", str(folder), "--users",
                        str(args.users), "--deltas", str(args.deltas), "--seed", str(args.seed)], check=True, cwd=ROOT)
        print(f"{args.deltas} deltas, {args.users:,} users; load average {os.getloadavg()[0]:.2f}; cores {os.cpu_count()}")
        baseline = None
        for name in ["duckdb", *args.engines.split(",")]:
            result = subprocess.run([sys.executable, __file__, "--child", name, "--folder", str(folder)],
                                    cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"{name:<8} ERROR {result.stderr.strip().splitlines()[-1]}")
                continue
            report = json.loads(result.stdout.strip().splitlines()[-1])
            baseline = baseline or report["seconds"]
            print(f"{name:<8} {report['seconds']:7.2f} s  {report['peak_mb']:6,} MB peak  "
                  f"{report['seconds'] / baseline:6.2f}x duckdb  {json.dumps(report['found'])}", flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

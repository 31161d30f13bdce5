"""A hundred million users out of core: the feed check's passing path with memory bounded by a limit, not by the feed.

    .venv/bin/python benchmarks/hundred_million_users.py [--users 100000000] [--memory-limit 4GB] [--seed 7]
        [--keep DIR] [--data DIR]

The in-memory engines return a ``FeedCheck`` whose deltas and deduplicated table are pandas frames:
at 100 M users that alone is ~12 GB, so no engine can keep that contract within bounded memory.
This measures the design that does: Polars streams each delta CSV to typed Parquet with its line
numbers (one pass, bounded buffers; the cells that do not cast are counted), then DuckDB, with a
memory limit and a spill folder, runs the per-delta range and key checks, the feed-wide checks
and the dedup as SQL and writes the deduplicated table to Parquet. Failure rows would come from
the same queries (as the Spark engine's); here only their counts are printed. The generated feed
(a base delta with every user and four updates of a quarter each, like ``checks.sample``'s, drawn
in chunks so that generating it is bounded too) lives in a temporary folder outside the repository.
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


def check_out_of_core(data: Path, memory_limit: str) -> dict[str, object]:
    """Stream to Parquet with Polars, check and deduplicate with DuckDB out of core; counts of what failed."""
    import duckdb
    import polars as pl

    from checks.engines import _frames
    from checks.engines.polars import _scan_typed
    from checks.feed import COLUMNS, discover_deltas

    work = data / "work"
    work.mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    parts = []
    for delta_file in discover_deltas(data / "feed"):
        header = _frames.read_header(delta_file.path)
        part = work / f"{delta_file.path.stem}.parquet"
        _scan_typed(delta_file.path, header).sink_parquet(part)  # streaming: bounded buffers
        parts.append((delta_file.name, part))
    timings["stream CSV to typed Parquet"] = time.perf_counter() - started

    connection = duckdb.connect()
    connection.execute(f"set memory_limit = '{memory_limit}'")
    connection.execute(f"set temp_directory = '{work / 'spill'}'")
    connection.execute("set preserve_insertion_order = false")
    started = time.perf_counter()
    per_delta = {}
    for index, (name, part) in enumerate(parts):
        nulls = " + ".join(f"count(*) filter (where {column} is null)" for column in COLUMNS)
        negatives = " + ".join(f"count(*) filter (where {column} < 0)" for column in COLUMNS[1:])
        per_delta[name] = connection.execute(
            f"select count(*), {nulls}, count(*) filter (where user_id <= 0) + {negatives}, "
            f"count(user_id) - count(distinct user_id), max(batch_id) from read_parquet('{part}')"
        ).fetchone()
    timings["per-delta checks (SQL aggregates)"] = time.perf_counter() - started

    union = " union all ".join(
        f"select *, {index} as file_index from read_parquet('{part}')" for index, (_, part) in enumerate(parts)
    )
    connection.execute(f"create view feed as {union}")
    started = time.perf_counter()
    maxima = [per_delta[name][4] for name, _ in parts]
    bounds, _ = _frames.earlier_batches([name for name, _ in parts], maxima)
    monotonic = sum(
        connection.execute(
            f"select count(*) from read_parquet('{part}') where batch_id <= {bound}"
        ).fetchone()[0]
        for (_, part), bound in zip(parts, bounds) if bound is not None
    )
    repeated, decreases = connection.execute(
        "select count(*) filter (where same_pair), count(*) filter (where same_user and total_spend < previous_spend) from ("
        " select user_id = lag(user_id) over w as same_user,"
        "        user_id = lag(user_id) over w and batch_id = lag(batch_id) over w as same_pair,"
        "        total_spend, lag(total_spend) over w as previous_spend"
        " from feed window w as (order by user_id, batch_id, file_index, row))"
    ).fetchone()
    timings["feed-wide checks (SQL windows)"] = time.perf_counter() - started

    started = time.perf_counter()
    out = work / "deduplicated.parquet"
    connection.execute(
        f"copy (select {', '.join(COLUMNS)}, file_index as source_file, row as source_row from feed "
        "qualify row_number() over (partition by user_id order by batch_id desc) = 1 order by user_id) "
        f"to '{out}' (format parquet)"
    )
    ties = connection.execute(
        "select count(*) from (select user_id from (select user_id from feed "
        "qualify batch_id = max(batch_id) over (partition by user_id)) group by user_id having count(*) > 1)"
    ).fetchone()[0]
    users, spend = connection.execute(f"select count(*), sum(total_spend) from read_parquet('{out}')").fetchone()
    timings["dedup to Parquet (SQL)"] = time.perf_counter() - started
    return {
        "rows_per_delta": {name: values[0] for name, values in per_delta.items()},
        "cells_not_integer": sum(values[1] for values in per_delta.values()),
        "values_out_of_range": sum(values[2] for values in per_delta.values()),
        "repeated_user_ids": sum(values[3] for values in per_delta.values()),
        "batch_monotonic_failures": monotonic,
        "repeated_pairs": repeated,
        "spend_decreases": decreases,
        "tied_users": ties,
        "users": users,
        "total_spend": int(spend),
        "timings": {name: round(seconds, 1) for name, seconds in timings.items()},
        "parquet_mb": round(sum(path.stat().st_size for path in work.glob("*.parquet")) / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000_000)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        generate(args.data, args.users, args.seed)
        return
    if args.child == "check":
        import resource

        started = time.perf_counter()
        found = check_out_of_core(args.data, args.memory_limit)
        found["seconds"] = round(time.perf_counter() - started, 1)
        found["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(found))
        return

    data = args.data or args.keep or Path(tempfile.mkdtemp(prefix="checks-hundred-million-"))
    temporary = None if (args.data or args.keep) else data
    try:
        if args.data is None:
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", "generate", "--data", str(data), "--users",
                            str(args.users), "--seed", str(args.seed)], check=True, cwd=ROOT)
            size = sum(path.stat().st_size for path in (data / "feed").iterdir()) / 1e9
            print(f"generated {args.users:,} users, feed {size:.2f} GB, in {time.perf_counter() - started:.0f} s into {data}")
        print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}; memory limit {args.memory_limit}")
        result = subprocess.run([sys.executable, __file__, "--child", "check", "--data", str(data), "--memory-limit",
                                 args.memory_limit], check=True, cwd=ROOT, capture_output=True, text=True)
        print(json.dumps(json.loads(result.stdout.strip().splitlines()[-1]), indent=2))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            shutil.rmtree(data / "work", ignore_errors=True)


if __name__ == "__main__":
    main()

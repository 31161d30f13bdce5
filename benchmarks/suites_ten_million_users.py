"""Ten million users through the expectation suites: `run_suites` on three 10 M-row tables, against bare Polars.

    .venv/bin/python benchmarks/suites_ten_million_users.py [--users 10000000] [--seed 7]
        [--before REV] [--skip before-withdocs,before-nodocs,polarsaggregates]

Builds (seeded, in memory, nothing written into the repository) the three tables `checks run` hands
to the suites at scale: the deduplicated feed, the platform's table (a quarter of its users stuck on
an older batch with lower spend, shuffled) and the customer's export (the deduplicated rows,
shuffled), plus each user's latest batch_id. Each measurement runs in its own process, so its peak
memory is that process's maximum resident set (ru_maxrss); the figure includes the ~1.4 GB of input
frames, printed separately. ``before`` runs `checks/suites.py` as committed at ``--before`` (loaded
from git into a temporary folder), ``after`` the working tree's. The baseline, timed in the same
run: the suite's aggregates (row count, nulls, minimums, sum, duplicate user_ids, stale rows)
computed bare in Polars (a hash join on user_id) and in numpy (user_id as an array position, as
`run_suites` does when ids are dense). Prints the load average: other benchmarks may share the machine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ("polars aggregates", "numpy aggregates", "after, no docs", "after, with docs", "before, no docs", "before, with docs")


def build_tables(users: int, seed: int):
    """The three tables and each user's latest batch_id, as the runner hands them over."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    user_id = np.arange(1, users + 1, dtype="int64")
    batch_id = rng.integers(0, 5_000, size=users, dtype="int64")
    deduplicated = pd.DataFrame(
        {
            "user_id": user_id,
            "total_spend": rng.integers(0, 10_000, size=users, dtype="int64"),
            "count_saved_items": rng.integers(0, 50, size=users, dtype="int64"),
            "loyalty_credits": rng.integers(0, 500, size=users, dtype="int64"),
            "batch_id": batch_id,
        }
    )
    customer = deduplicated.take(rng.permutation(users)).reset_index(drop=True)
    stale = rng.random(users) < 0.25
    platform = deduplicated.assign(
        batch_id=np.where(stale, np.maximum(batch_id - 1 - rng.integers(0, 100, size=users), -1) + 0, batch_id),
        total_spend=np.where(stale, deduplicated["total_spend"] // 2, deduplicated["total_spend"]),
    )
    platform["batch_id"] = platform["batch_id"].clip(lower=0)
    platform = platform.take(rng.permutation(users)).reset_index(drop=True)
    latest = pd.Series(batch_id, index=pd.Index(user_id, name="user_id"), name="batch_id")
    tables = {"deduplicated": deduplicated, "platform": platform, "customer": customer}
    return tables, latest, int(deduplicated["total_spend"].sum())


def polars_aggregates(tables, latest) -> dict:
    """The suite's facts computed bare: what any engine must at least do."""
    import polars as pl

    latest_frame = pl.DataFrame({"user_id": latest.index.to_numpy(), "latest": latest.to_numpy()})
    found = {}
    for name, table in tables.items():
        frame = pl.from_pandas(table).join(latest_frame, on="user_id", how="left")
        found[name] = frame.select(
            pl.len().alias("rows"),
            pl.col("total_spend").sum().alias("sum"),
            *[pl.col(column).null_count().alias(f"{column}_nulls") for column in table.columns],
            *[pl.col(column).min().alias(f"{column}_min") for column in table.columns],
            pl.col("user_id").is_duplicated().sum().alias("duplicates"),
            (pl.col("batch_id") != pl.col("latest")).sum().alias("stale"),
            pl.col("latest").null_count().alias("unknown"),
        ).row(0, named=True)
    return {name: {"stale": facts["stale"], "sum": facts["sum"]} for name, facts in found.items()}


def numpy_aggregates(tables, latest) -> dict:
    """The same facts with user_id as an array position (no hash join), as the fast path reads them."""
    import numpy as np

    missing = np.iinfo(np.int64).min
    lookup = np.full(latest.index.max() + 1, missing, dtype=np.int64)
    lookup[latest.index.to_numpy()] = latest.to_numpy()
    found = {}
    for name, table in tables.items():
        user_id, batch_id = table["user_id"].to_numpy(), table["batch_id"].to_numpy()
        inside = user_id < lookup.size
        latest_batch = np.where(inside, lookup[np.where(inside, user_id, 0)], missing)
        counts = np.bincount(user_id)
        found[name] = {
            "rows": len(table),
            "sum": int(table["total_spend"].to_numpy().sum()),
            "minimums": [int(table[column].to_numpy().min()) for column in table.columns],
            "duplicates": int(np.count_nonzero(counts[user_id] > 1)),
            "stale": int(np.count_nonzero((latest_batch != batch_id) & (latest_batch != missing))),
            "unknown": int(np.count_nonzero(latest_batch == missing)),
        }
    return {name: {"stale": facts["stale"], "sum": facts["sum"]} for name, facts in found.items()}


def _import_gx(module) -> None:
    if hasattr(module, "_import_gx"):  # the one-module suites.py before the split
        module._import_gx()
        return
    from checks.suites.gx import import_gx

    import_gx()


def _suites_module(before: str | None):
    if before is None:
        from checks import suites

        return suites
    source = subprocess.run(
        ["git", "show", f"{before}:checks/suites.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="suites-before-") as folder:
        path = Path(folder) / "suites_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("checks.suites_before", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    module.DEFAULT_GX_CONFIG = ROOT / "gx" / "great_expectations.yml"
    return module


def measure(name: str, users: int, seed: int, before: str) -> dict:
    """One measurement in this (child) process."""
    tables, latest, finance_total = build_tables(users, seed)
    input_rss = _peak_mb()
    if name.endswith("aggregates"):
        started = time.perf_counter()
        found = (polars_aggregates if name.startswith("polars") else numpy_aggregates)(tables, latest)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "found": found, "input_mb": input_rss, "peak_mb": _peak_mb()}
    module = _suites_module(before if name.startswith("before") else None)
    _import_gx(module)  # GX's import (~3 s) is timed apart: `checks run` pays it once either way
    with tempfile.TemporaryDirectory(prefix="suites-bench-") as folder:
        started = time.perf_counter()
        run = module.run_suites(
            tables, latest_batch=latest, finance_total=finance_total, expected_users=len(latest),
            gx_dir=Path(folder) / "gx", build_docs=name.endswith("with docs"),
        )
        seconds = time.perf_counter() - started
    found = {}
    for result in run.results:
        outcomes = {outcome.check: outcome for outcome in result.outcomes}
        found[result.table] = {
            "stale": outcomes["batch_currency"].unexpected_count,
            "sum": outcomes["revenue_total"].observed,
        }
    return {"seconds": seconds, "found": found, "input_mb": input_rss, "peak_mb": _peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--before", default="5db89ba", help="git revision of the full-frame suites.py")
    parser.add_argument("--skip", default="", help="comma-separated measurements to skip, e.g. before-withdocs")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.users, args.seed, args.before)))
        return

    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    print(f"users {args.users:,}, seed {args.seed}, 3 tables; load average before: {_load()}")
    figures = {}
    for name in MEASUREMENTS:
        if name in skip or name.replace(", ", "-").replace(" ", "") in skip:
            continue
        command = [sys.executable, __file__, "--measure", name, "--users", str(args.users),
                   "--seed", str(args.seed), "--before", args.before]
        child = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        if child.returncode != 0:
            print(f"{name:<20} failed (exit {child.returncode})")
            continue
        figures[name] = result = json.loads(child.stdout.strip().splitlines()[-1])
        peak = result["peak_mb"]
        ratio = "".join(
            f"  {result['seconds'] / figures[baseline]['seconds']:5.1f}x {baseline.split()[0]}"
            for baseline in ("polars aggregates", "numpy aggregates")
            if baseline in figures and not name.endswith("aggregates")
        )
        print(
            f"{name:<20} {result['seconds']:7.2f} s  peak {peak:6.0f} MB (inputs {result['input_mb']:5.0f} MB)"
            f"{ratio}  load {_load()}"
        )
    answers = {json.dumps(result["found"], sort_keys=True) for result in figures.values()}
    print("same answers in every run:" if len(answers) == 1 else "ANSWERS DIFFER:", next(iter(answers), "-"))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()

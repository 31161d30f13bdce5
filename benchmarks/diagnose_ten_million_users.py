"""Benchmark: reconciliation and diagnosis of a ten-million-user feed, against a bare Polars join in the same run.

    .venv/bin/python benchmarks/diagnose_ten_million_users.py [USERS ...]   (default: 1000000 10000000)

The feed is seeded (``checks.sample.generate_feed``: a base delta with every user and four updates
of a quarter of them each) and lives in memory only; the platform table is the feed deduplicated
without delta2. Each measurement runs in its own subprocess so that its peak resident memory
(``ru_maxrss``) is its own; the feed and platform table are generated inside it and their memory
is printed apart. The baseline is the least any tool must do: Polars deduplicating the feed by
largest batch_id and joining it with the platform table on user_id to count differing users.
The load average is printed because other benchmarks may share the machine.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

SEED = 11
SKIPPED = 2


def _case(users: int):
    import pandas as pd

    from checks.sample import generate_feed

    feed = generate_feed(users, 5, seed=SEED)
    kept = [delta.frame for delta in feed if delta.number != SKIPPED]
    stacked = pd.concat(kept, ignore_index=True)
    latest = stacked.groupby("user_id")["batch_id"].idxmax()
    platform = stacked.loc[latest.to_numpy()].reset_index(drop=True)
    return feed, platform


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _measure(what: str, users: int) -> dict:
    feed, platform = _case(users)
    setup_gib = _peak_gib()
    start = time.perf_counter()
    if what == "diagnose":
        from checks.diagnose import diagnose

        diagnosis = diagnose(feed, platform)
        cause = diagnosis.root_causes[0]
        assert cause.file == f"delta{SKIPPED}.csv" and diagnosis.unexplained_users == 0, diagnosis.to_dict()
        answer = diagnosis.reconciliation.discrepant_users
    else:
        import polars as pl

        stacked = pl.concat([pl.from_pandas(delta.frame) for delta in feed])
        latest = stacked.sort("batch_id").group_by("user_id").last()
        joined = latest.join(pl.from_pandas(platform), on="user_id", how="full", suffix="_platform")
        answer = joined.filter(pl.col("batch_id").ne_missing(pl.col("batch_id_platform"))).height
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_gib": _peak_gib(), "setup_gib": setup_gib, "discrepant": answer}


def _in_subprocess(what: str, users: int) -> dict:
    code = f"import json, sys; sys.path.insert(0, {os.getcwd()!r}); from benchmarks.diagnose_ten_million_users import _measure; print(json.dumps(_measure({what!r}, {users})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ten_million_users(sizes: list[int]) -> None:
    for users in sizes:
        load = os.getloadavg()[0]
        diagnosis = _in_subprocess("diagnose", users)
        baseline = _in_subprocess("baseline", users)
        assert diagnosis["discrepant"] == baseline["discrepant"], (diagnosis, baseline)
        print(
            f"{users:>11,} users (load {load:.2f} -> {os.getloadavg()[0]:.2f}): diagnose {diagnosis['seconds']:.1f} s, "
            f"peak {diagnosis['peak_gib']:.2f} GiB (feed+platform {diagnosis['setup_gib']:.2f}); Polars dedup+join "
            f"{baseline['seconds']:.1f} s, peak {baseline['peak_gib']:.2f} GiB; ratio x{diagnosis['seconds'] / baseline['seconds']:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    ten_million_users([int(argument) for argument in sys.argv[1:]] or [1_000_000, 10_000_000])

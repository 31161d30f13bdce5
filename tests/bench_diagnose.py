"""Benchmark: reconciliation and diagnosis on a seeded generated feed (``ten_million_users`` shape).

Run: ``.venv/bin/python tests/bench_diagnose.py 1000000 10000000``. Prints, per size, the seconds for
reconcile and for the whole diagnosis, the peak resident memory, and the time ratio to the first size.
"""
from __future__ import annotations

import resource
import sys
import time

from checks.dedup import deduplicate
from checks.diagnose import diagnose
from checks.reconcile import reconcile
from checks.sample import generate_feed


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def ten_million_users(users: int) -> dict[str, float]:
    """A base of ``users`` users plus 4 updates (a quarter of the users each); the platform missed delta2."""
    feed = generate_feed(users, 5, seed=11)
    platform = deduplicate([delta for delta in feed if delta.number != 2]).loc[:, list(feed[0].frame.columns)]
    before = _peak_gib()
    start = time.perf_counter()
    reconcile(deduplicate(feed), platform, feed=feed)
    reconciled = time.perf_counter() - start
    start = time.perf_counter()
    diagnosis = diagnose(feed, platform)
    diagnosed = time.perf_counter() - start
    cause = diagnosis.root_causes[0]
    assert cause.file == "delta2.csv" and diagnosis.unexplained_users == 0, diagnosis.to_dict()
    return {"users": users, "reconcile_s": reconciled, "diagnose_s": diagnosed, "peak_gib": _peak_gib(), "before_gib": before}


if __name__ == "__main__":
    baseline = None
    for size in [int(argument) for argument in sys.argv[1:]] or [1_000_000]:
        result = ten_million_users(size)
        baseline = baseline or result
        ratio = result["diagnose_s"] / baseline["diagnose_s"] * baseline["users"] / size
        print(
            f"{size:>11,} users: reconcile {result['reconcile_s']:.1f} s, diagnose (incl. reconcile) "
            f"{result['diagnose_s']:.1f} s, peak RSS {result['peak_gib']:.2f} GiB "
            f"(after generating the feed {result['before_gib']:.2f} GiB), time per user vs first size x{ratio:.2f}",
            flush=True,
        )

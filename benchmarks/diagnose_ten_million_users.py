"""Benchmark: reconciliation and diagnosis of a ten-million-user feed, against a bare Polars baseline in the same run.

    .venv/bin/python benchmarks/diagnose_ten_million_users.py [USERS ...]        (default: 1000000 10000000)
    .venv/bin/python benchmarks/diagnose_ten_million_users.py --drift 100000 10000000  (and values drifted)
    .venv/bin/python benchmarks/diagnose_ten_million_users.py --case DIR [DIR ...]  (a folder with case.toml)

Generated feeds are seeded (``checks.sample.generate_feed``: a base delta with every user and four
updates of a quarter of them each) and live in memory only; the platform table is the feed
deduplicated without delta2; with ``--drift N``, N of the users whose platform row comes from delta3
also hold their amount multiplied by 100 (a load that read cents as dollars). A case folder (e.g. one kept by ``benchmarks/ten_million_users.py``) is
read as ``checks run`` reads it, with the default engine, and diagnosed with its deduplicated table.

Each measurement runs in its own subprocess. ``diagnose()`` is timed alone (wall and CPU), and its
memory is the peak resident size while it runs above what the process held before (the feed, the
tables and the deduplicated table): the kernel's peak counter is reset just before the call; what is
still resident after it returns is what the result (its users and lineage frames) keeps. The
baseline is the least any tool must do with the same data: Polars reading (for a case folder) and
deduplicating the feed by largest batch_id and joining it with the platform table on user_id to
count differing users. The load average is printed because other work may share the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SEED = 11
SKIPPED = 2
DRIFTED = 3  # the file whose load multiplies the amount of ``--drift`` users by 100
FACTOR = 100


def _generated(users: int, drift: int = 0):
    import pandas as pd

    from checks.dedup import deduplicate
    from checks.sample import generate_feed

    feed = generate_feed(users, 5, seed=SEED)
    kept = [delta.frame for delta in feed if delta.number != SKIPPED]
    stacked = pd.concat(kept, ignore_index=True)
    latest = stacked.groupby("user_id")["batch_id"].idxmax()
    platform = stacked.loc[latest.to_numpy()].reset_index(drop=True)
    first, last = (lambda batches: (batches.min(), batches.max()))(feed[DRIFTED].frame["batch_id"])
    from_file = platform.index[platform["batch_id"].between(first, last)][:drift]
    platform.loc[from_file, "total_spend"] *= FACTOR
    return feed, platform, None, None, deduplicate(feed)


def _from_case(folder: str):
    from checks.config import load_case
    from checks.engines import DEFAULT_ENGINE, get_engine
    from checks.feed import discover_deltas

    case = load_case(Path(folder) / "case.toml")
    engine = get_engine(DEFAULT_ENGINE)
    platform = engine.read_table(case.platform)
    customer = engine.read_table(case.customer) if case.customer is not None else None
    checked = engine.check_validations([engine.read_and_validate(delta) for delta in discover_deltas(case.feed)])
    return checked.deltas, platform, customer, case.finance_total, checked.deduplicated


def _resident_gib(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 2**20


def _reset_peak() -> bool:
    """Let the kernel's peak resident size start again from now (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _measure(what: str, source: str, drift: int = 0) -> dict:
    if what == "baseline":
        return _baseline(source, drift)
    import gc

    feed, platform, customer, finance, deduplicated = _from_case(source) if not source.isdigit() else _generated(int(source), drift)
    gc.collect()
    held = _resident_gib("VmRSS")
    exact = _reset_peak()
    from checks.diagnose import diagnose

    start, cpu = time.perf_counter(), time.process_time()
    diagnosis = diagnose(feed, platform, customer, finance, deduplicated=deduplicated)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _resident_gib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    gc.collect()
    kept = _resident_gib("VmRSS") - held  # what the Diagnosis holds: its frames
    if source.isdigit():
        named = {(cause.kind, cause.file) for cause in diagnosis.root_causes}
        assert ("file_not_ingested", f"delta{SKIPPED}.csv") in named and diagnosis.unexplained_users == 0, diagnosis.to_dict()
    causes = [(cause.kind, cause.file, cause.users, *cause.to_dict().get("mechanism", "").split()) for cause in diagnosis.root_causes]
    return {
        "seconds": seconds, "cpu": cpu, "held_gib": held, "above_gib": peak - held, "kept_gib": kept,
        "discrepant": diagnosis.reconciliation.discrepant_users, "causes": causes,
    }


def _baseline(source: str, drift: int = 0) -> dict:
    import polars as pl

    start = time.perf_counter()
    if source.isdigit():
        feed, platform, *_ = _generated(int(source), drift)
        start = time.perf_counter()
        stacked = pl.concat([pl.from_pandas(delta.frame) for delta in feed])
        table = pl.from_pandas(platform)
    else:
        from checks.config import load_case

        case = load_case(Path(source) / "case.toml")
        stacked = pl.concat([pl.read_csv(path) for path in sorted(Path(case.feed).glob("delta*.csv"))])
        table = pl.read_csv(case.platform)
    latest = stacked.sort("batch_id").group_by("user_id").last()
    joined = latest.join(table, on="user_id", how="full", suffix="_platform")
    differs = pl.col("batch_id").ne_missing(pl.col("batch_id_platform"))
    differs = differs | pl.col("total_spend").ne_missing(pl.col("total_spend_platform"))
    answer = joined.filter(differs).height
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "discrepant": answer}


def _in_subprocess(what: str, source: str, drift: int) -> dict:
    code = (
        f"import json, sys; sys.path.insert(0, {os.getcwd()!r}); "
        f"from benchmarks.diagnose_ten_million_users import _measure; print(json.dumps(_measure({what!r}, {source!r}, {drift!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def diagnose_ten_million_users(sources: list[str], drift: int = 0) -> None:
    for source in sources:
        load = os.getloadavg()[0]
        diagnosis = _in_subprocess("diagnose", source, drift)
        baseline = _in_subprocess("baseline", source, drift)
        name = f"{int(source):,} users" if source.isdigit() else source
        name += f", {drift:,} drifting" if drift and source.isdigit() else ""
        print(
            f"{name} (load {load:.2f} -> {os.getloadavg()[0]:.2f}): diagnose {diagnosis['seconds']:.1f} s "
            f"(CPU {diagnosis['cpu']:.1f} s), peak {diagnosis['above_gib']:.2f} GiB above its inputs "
            f"({diagnosis['held_gib']:.2f} GiB held before), {diagnosis['kept_gib']:.2f} GiB kept in the result; Polars {'dedup+join' if source.isdigit() else 'read+dedup+join'} "
            f"{baseline['seconds']:.1f} s, peak {baseline['peak_gib']:.2f} GiB; ratio x{diagnosis['seconds'] / baseline['seconds']:.1f}; "
            f"{diagnosis['discrepant']:,} discrepant users (Polars: {baseline['discrepant']:,}); causes {diagnosis['causes']}",
            flush=True,
        )
        assert diagnosis["discrepant"] == baseline["discrepant"], (diagnosis, baseline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="*", type=int, help="generated feeds of this many users")
    parser.add_argument("--case", nargs="+", default=[], help="case folders (case.toml, feed/, the tables)")
    parser.add_argument("--drift", type=int, default=0, help="generated feeds: users whose amount the load multiplied by 100")
    arguments = parser.parse_args()
    sizes = [str(users) for users in arguments.users]
    diagnose_ten_million_users([*sizes, *arguments.case] or ["1000000", "10000000"], arguments.drift)

"""The Spark engine on a standalone cluster: the Python driver's own peak memory and the time of `checks run`, by feed size.

    .venv/bin/python benchmarks/spark_cluster.py [--users 1000000,4000000] [--seed 7] [--cores 2]
        [--memory 2g] [--keep DIR] [--shape user-summary|typed-accounts|accounts]

Starts a Spark standalone master and one worker on loopback from the PySpark install
(``checks.engines.spark_standalone``), generates for each size the seeded feed, platform table and
customer export of ``benchmarks/ten_million_users.py`` (``--shape accounts``: the second sample's accounts, a string
key, plans and referrers, ``checks.sample_accounts``, one file never loaded; ``--shape typed-accounts``: the same in
the typed contract's columns, decimals, timestamps, a date and a boolean) in a temporary folder outside the repository,
and runs ``checks run --engine spark --spark-master spark://...`` on it in a process of its own.
The Python process's peak is its own (``checks.peak``: VmHWM, read at its exit; its ru_maxrss would carry
over this benchmark's, which has just read the feed's frames): the driver JVM and the executors are other
processes. The baseline printed beside it is what the feed's pandas frames
take (every delta, both tables and the deduplicated table, ``memory_usage(deep=True)``), measured in
this process. Issue 15's acceptance: the peak differs by less than 25 % between the sizes and stays
below the smallest feed's frames. Everything started is stopped at the end, also on failure.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT)]

from ten_million_users import generate  # noqa: E402  (the same seeded feed as the one-machine benchmark)

from checks.engines.spark_standalone import leftover_processes, run_checks, standalone_cluster  # noqa: E402

MIB = 1024 * 1024


def pandas_frames_bytes(data: Path) -> int:
    """What the feed's deltas, both tables and the deduplicated table take as pandas frames (read as the files hold
    them; the case file names the tables, the contract the key and the version)."""
    import pandas as pd

    from checks.config import load_case
    from checks.contract import contract_or_default

    case = load_case(data / "case.toml")
    shape = contract_or_default(case.contract).shape
    key, version = shape.key, shape.version
    deltas = [pd.read_csv(path) for path in sorted(case.feed.glob("*.csv"))]
    latest = pd.concat(deltas).sort_values(version, kind="stable").drop_duplicates(key, keep="last")
    tables = [pd.read_csv(path) for path in (case.platform, case.customer)]
    return sum(int(frame.memory_usage(deep=True).sum()) for frame in (*deltas, latest, *tables))


def generate_accounts(data: Path, accounts: int, seed: int, *, typed: bool = False) -> None:
    """The second sample's accounts in five daily files; ``typed``: written in the typed contract's columns."""
    from checks.sample_accounts import generate_accounts_case, write_accounts_case

    write_accounts_case(generate_accounts_case(accounts, 5, seed=seed), data, typed=typed)


GENERATORS = {
    "user-summary": generate,
    "accounts": generate_accounts,
    "typed-accounts": lambda data, accounts, seed: generate_accounts(data, accounts, seed, typed=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1000000,4000000", help="comma-separated feed sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--memory", default="2g", help="the worker's memory")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per checks run")
    parser.add_argument("--keep", type=Path, help="keep the generated data and outputs here")
    parser.add_argument("--shape", choices=tuple(GENERATORS), default="user-summary")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="checks-spark-cluster-")) if arguments.keep is None else arguments.keep
    rows = []
    try:
        with standalone_cluster(work / "cluster", cores=arguments.cores, memory=arguments.memory) as cluster:
            print(f"master {cluster.master}, worker {arguments.cores} cores {arguments.memory}", flush=True)
            for users in (int(size) for size in arguments.users.split(",")):
                data = work / f"{arguments.shape}-{users}"
                GENERATORS[arguments.shape](data, users, arguments.seed)
                frames = pandas_frames_bytes(data)
                ran = run_checks(
                    ["run", "--case", str(data / "case.toml"), "--out", str(data / "out"), "--gx-dir", str(data / "gx"),
                     "--engine", "spark", "--spark-master", cluster.master],
                    data / "python-peak", timeout=arguments.timeout,
                )
                if not (data / "out" / "summary.json").exists():  # the run failed before its summary: say why, go on
                    print(json.dumps({"users": users, "exit": ran.exit_code, "seconds": round(ran.seconds, 1),
                                      "stderr": ran.stderr.strip().splitlines()[-5:]}), flush=True)
                    continue
                summary = json.loads((data / "out" / "summary.json").read_text())
                row = {"users": users, "exit": ran.exit_code, "seconds": round(ran.seconds, 1),
                       "python_peak_mib": round(ran.python_peak_bytes / MIB), "pandas_frames_mib": round(frames / MIB),
                       "stages": summary.get("timings_seconds")}
                rows.append(row)
                print(json.dumps(row), flush=True)
        assert not leftover_processes(cluster), "a process of the cluster outlived it"
    finally:
        if arguments.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(rows) > 1:
        peaks = [row["python_peak_mib"] for row in rows]
        growth = max(peaks) / min(peaks) - 1
        print(f"python peak {min(peaks)}-{max(peaks)} MiB: {growth:.0%} apart (target < 25 %); "
              f"smallest feed's pandas frames {rows[0]['pandas_frames_mib']} MiB (target: peak below it)")


if __name__ == "__main__":
    main()

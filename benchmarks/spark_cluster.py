"""The Spark engine on a standalone cluster: the Python driver's own peak memory and the time of `checks run`, by feed size.

    .venv/bin/python benchmarks/spark_cluster.py [--users 1000000,4000000] [--seed 7] [--cores 2]
        [--memory 2g] [--keep DIR]

Starts a Spark standalone master and one worker on loopback from the PySpark install
(``checks.engines.spark_standalone``), generates for each size the seeded feed, platform table and
customer export of ``benchmarks/ten_million_users.py`` in a temporary folder outside the repository,
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
    """What the feed's deltas, both tables and the deduplicated table take as pandas frames."""
    import pandas as pd

    deltas = [pd.read_csv(path) for path in sorted((data / "feed").glob("delta*.csv"))]
    latest = pd.concat(deltas).sort_values("batch_id", kind="stable").drop_duplicates("user_id", keep="last")
    tables = [pd.read_csv(data / name) for name in ("platform-user-summary.csv", "customer-user-summary.csv")]
    return sum(int(frame.memory_usage(deep=True).sum()) for frame in (*deltas, latest, *tables))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1000000,4000000", help="comma-separated feed sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--memory", default="2g", help="the worker's memory")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per checks run")
    parser.add_argument("--keep", type=Path, help="keep the generated data and outputs here")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="checks-spark-cluster-")) if arguments.keep is None else arguments.keep
    rows = []
    try:
        with standalone_cluster(work / "cluster", cores=arguments.cores, memory=arguments.memory) as cluster:
            print(f"master {cluster.master}, worker {arguments.cores} cores {arguments.memory}", flush=True)
            for users in (int(size) for size in arguments.users.split(",")):
                data = work / f"users-{users}"
                generate(data, users, arguments.seed)
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

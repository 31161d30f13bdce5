"""The second sample's shape at scale: `checks run` on accounts (string keys, timestamps, decimals) against DuckDB.

    .venv/bin/python benchmarks/ten_million_accounts.py [--accounts 10000000] [--seed 7] [--keep DIR] [--data DIR]
        [--repeat 2] [--baseline-only] [--out DIR]

Generates (seeded, ``checks.sample_accounts``) a feed of ``--accounts`` accounts in five daily files (the
first holds every account, each later one a quarter of them), the platform's table (one file never
loaded) and the customer's export, in a temporary folder outside the repository. Then, each in a
process of its own and in this order: DuckDB's bare read-and-dedup of the same files (the baseline,
as the scale issue words it), then `checks run --case` under the contract, its outputs in a temporary folder
(``--out DIR`` keeps them, e.g. to compare two versions' bytes). Prints each one's time, CPU seconds and peak
memory, the run's stages (wall and CPU), and the ratio of `checks run` to DuckDB in the same run, with the
machine's load average.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DUCKDB = """
import duckdb, sys
connection = duckdb.connect()
connection.execute("set enable_progress_bar=false")
print(connection.execute(
    "select count(*) from (select * from read_csv('" + sys.argv[1] + "/accounts_*.csv') "
    "qualify row_number() over (partition by account_id order by exported_at desc) = 1)"
).fetchall()[0][0])
"""


def generate(folder: Path, accounts: int, seed: int) -> None:
    from checks.sample_accounts import generate_accounts_case, write_accounts_case

    write_accounts_case(generate_accounts_case(accounts, 5, seed=seed), folder)


def timed(command: list[str]) -> dict[str, object]:
    """Wall time, CPU seconds (user + system) and the child's own peak resident memory (``wait4``'s rusage of that
    process; its CPU counts the children it waited for, such as the run's helper process)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                "peak_mb": round(usage.ru_maxrss / 1024), "exit": process.returncode,
                "stderr": err.read().decode(errors="replace").strip()[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--data", type=Path, help="reuse a folder generated before with --keep")
    parser.add_argument("--repeat", type=int, default=1, help="measure DuckDB and `checks run` this many times, in turn")
    parser.add_argument("--baseline-only", action="store_true", help="measure DuckDB only (e.g. right after --keep)")
    parser.add_argument("--out", type=Path, help="keep the last run's outputs here (out/, gx/), e.g. to compare them")
    args = parser.parse_args()
    folder = args.data or args.keep or Path(tempfile.mkdtemp(prefix="accounts-"))
    try:
        if args.data is None:
            started = time.perf_counter()
            generate(folder, args.accounts, args.seed)
            print(f"generated {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s: {folder}", flush=True)
        for _ in range(args.repeat):
            print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
            baseline = timed([sys.executable, "-c", DUCKDB, str(folder / "feed")])
            print(f"duckdb read-and-dedup: {baseline['seconds']} s, {baseline['cpu_seconds']} CPU-s, {baseline['peak_mb']} MB",
                  flush=True)
            if args.baseline_only:
                continue
            # The run's outputs go to a folder of their own, never into the data (kept with --keep, read by --data).
            kept = contextlib.nullcontext(args.out) if args.out else tempfile.TemporaryDirectory(prefix="accounts-run-")
            with kept as written:
                written = Path(written)
                shutil.rmtree(written / "out", ignore_errors=True)
                shutil.rmtree(written / "gx", ignore_errors=True)
                run = timed([sys.executable, "-m", "checks", "run", "--case", str(folder / "case.toml"), "--out",
                             str(written / "out"), "--gx-dir", str(written / "gx"), "--json"])
                if run["exit"] not in (0, 1):
                    raise SystemExit(f"checks run exited {run['exit']}: {run['stderr']}")
                summary = json.loads((written / "out" / "summary.json").read_text())
            stages = {name: round(seconds, 1) for name, seconds in summary["timings_seconds"].items()}
            cpu = {name: round(seconds, 1) for name, seconds in summary["cpu_seconds"].items()}
            print(f"checks run: {run['seconds']} s, {run['cpu_seconds']} CPU-s, {run['peak_mb']} MB, exit {run['exit']}; "
                  f"stages {stages}; stages' CPU-s {cpu}; helper process {summary['helper_process']}")
            print(f"ratio to duckdb: {run['seconds'] / baseline['seconds']:.2f}x (load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        if args.data is None and args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

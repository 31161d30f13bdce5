"""Time `checks run` on the real incident stage by stage, next to a bare pandas read-dedup-compare.

    .venv/bin/python benchmarks/johnnys_jeans_run.py [--repeat 3]

Prints: the cost of importing Great Expectations inside checks, `checks --help`, `checks validate` of one
delta against its history, `checks run` end to end with its stage timings (from summary.json), and
the bare pandas baseline, all measured in this run. Targets (issue 2): --help and validate under
1.5 s without importing GX; `checks run` at most 1.5 s above the GX import.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT.parent / "shared" / "cases" / "johnnys-jeans"
COLUMNS = ["user_id", "total_spend", "count_saved_items", "loyalty_credits", "batch_id"]


def timed_command(args: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess]:
    """Median wall time of a fresh process running ``args``."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def bare_pandas() -> tuple[int, int]:
    """Read every delta, keep the latest row per user, compare with the platform's table."""
    feed = pd.concat(pd.read_csv(CASE / f"delta{number}.csv") for number in range(5))
    latest = feed.sort_values("batch_id").drop_duplicates("user_id", keep="last")
    platform = pd.read_csv(CASE / "AIQ-user-summary.csv")
    compared = latest.merge(platform, on="user_id", suffixes=("", "_platform"))
    stale = int((compared["batch_id"] != compared["batch_id_platform"]).sum())
    return int(latest["total_spend"].sum()), stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    rows = []

    # What GX costs inside `checks run`: its import after pandas, pandera and polars are loaded
    # (it then pulls in more of its integrations), timed in process. A script file, not -c:
    # PySpark's connect module, which GX imports, exits a main module without a __file__.
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "probe.py"
        probe.write_text(
            "import time, checks.validate, checks.engines.polars\nt = time.perf_counter()\n"
            "from checks.suites.gx import import_gx\nimport_gx()\nprint(time.perf_counter() - t)\n"
        )
        samples = [float(timed_command([python, str(probe)], 1)[1].stdout.split()[-1]) for _ in range(args.repeat)]
        only_gx = Path(scratch) / "only_gx.py"
        only_gx.write_text("import great_expectations\n")
        gx_process, _ = timed_command([python, str(only_gx)], args.repeat)
    gx_import = statistics.median(samples)
    rows.append(("a process that only imports GX (wall)", gx_process))
    rows.append(("GX import inside checks (in process)", gx_import))
    help_time, _ = timed_command([python, "-m", "checks", "--help"], args.repeat)
    rows.append(("checks --help", help_time))
    validate_time, result = timed_command(
        [python, "-m", "checks", "validate", str(CASE / "delta4.csv"), "--history", str(CASE)], args.repeat
    )
    assert result.returncode == 0, result.stderr
    rows.append(("checks validate delta4 --history", validate_time))

    with tempfile.TemporaryDirectory() as scratch:
        out, gx_dir = Path(scratch) / "out", Path(scratch) / "gx"
        command = [
            python, "-m", "checks", "run", "--case", str(ROOT / "cases" / "johnnys-jeans.toml"),
            "--out", str(out), "--gx-dir", str(gx_dir), "--json",
        ]
        run_time, result = timed_command(command, args.repeat)
        assert result.returncode in (0, 1), result.stderr
        stages = json.loads(result.stdout)["timings_seconds"]
    rows.append(("checks run (end to end)", run_time))
    rows.extend((f"  stage: {name}", seconds) for name, seconds in stages.items())

    started = time.perf_counter()
    for _ in range(args.repeat):
        total, stale = bare_pandas()
    baseline = (time.perf_counter() - started) / args.repeat
    rows.append((f"bare pandas read-dedup-compare (sum {total:,}, {stale:,} stale)", baseline))

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.3f}")
    print()
    print(f"checks run - a process that only imports GX: {run_time - gx_process:.3f} s (target <= 1.5 s)")
    print(f"checks run - GX import inside checks: {run_time - gx_import:.3f} s")
    print(f"checks run / bare pandas: {run_time / baseline:.1f}x")
    print(f"--help {'meets' if help_time < 1.5 else 'MISSES'} the 1.5 s target; "
          f"validate {'meets' if validate_time < 1.5 else 'MISSES'} it")


if __name__ == "__main__":
    main()

"""The Spark engine on a real cluster: a standalone master and a worker, each its own process on loopback.

Local mode runs the driver and the executors in one JVM; here the executors are the worker's, so the
SQL, the files Spark writes and the Python workers run away from the driver, as on a cluster. One
test only: starting the cluster and ``checks run`` on it cost minutes on two shared cores.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.engines.spark_standalone import StandaloneCluster, leftover_processes, run_checks, standalone_cluster
from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "case.toml"
SAME_FILES = ("deduplicated.csv", "discrepancies.csv", "failures.csv", "incident.md", "email-customer.md",
              "email-engineer.md")
COMMAND_TIMEOUT_SECONDS = 900
SPARK_LOG_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|WARN|ERROR) ")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A master and one worker (1 core, 1 GB) for the module; stopped at its end, with nothing left running."""
    with standalone_cluster(tmp_path_factory.mktemp("spark-standalone"), cores=1, memory="1g") as running:
        yield running
    assert leftover_processes(running) == []


def _run(tmp_path: Path, name: str, *engine: str) -> tuple[int, dict[str, object]]:
    out = tmp_path / name / "out"  # the report links the Data Docs relative to the outputs: same layout, same bytes
    ran = run_checks(
        ["run", "--case", str(SAMPLE), "--out", str(out), "--gx-dir", str(tmp_path / name / "gx"), *engine],
        tmp_path / f"peak-{name}", timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert "Traceback" not in ran.stderr, ran.stderr
    (tmp_path / f"{name}-stderr.txt").write_text(ran.stderr)
    summary = json.loads((out / "summary.json").read_text())
    return ran.exit_code, summary


@pytest.mark.slow
def test_checks_run_on_a_standalone_cluster_writes_what_the_default_engine_writes(
    cluster: StandaloneCluster, tmp_path: Path
) -> None:
    default_exit, default = _run(tmp_path, "default")
    spark_exit, spark = _run(tmp_path, "spark", "--engine", "spark", "--spark-master", cluster.master)
    assert list(cluster.work_dir.glob("app-*")), "no executor ran on the worker"
    assert (spark_exit, default_exit) == (1, 1)  # the sample's planted fault: a delta never loaded
    assert spark["diagnosis"] == default["diagnosis"]
    assert spark["feed"] == default["feed"]
    for written in SAME_FILES:
        assert (tmp_path / "spark" / "out" / written).read_bytes() == (tmp_path / "default" / "out" / written).read_bytes(), written
    assert spark_log_lines(tmp_path / "spark" / "out" / "spark.log") and not spark_log_lines(tmp_path / "spark-stderr.txt")


def spark_log_lines(path: Path) -> list[str]:
    """Lines in log4j's console form (``26/12/05 12:28:56 WARN BlockManager: ...``)."""
    return [line for line in path.read_text().splitlines() if SPARK_LOG_LINE.match(line)]

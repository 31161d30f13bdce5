"""The Spark engine's session: the JVM's own output goes to a log file, not to the terminal, unless asked for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from checks.engines.spark_session import jvm_output_to


def test_a_process_started_inside_writes_its_errors_to_the_log_and_ours_come_back(tmp_path: Path, capfd) -> None:
    log = tmp_path / "out" / "spark.log"
    with jvm_output_to(log):
        subprocess.run(["sh", "-c", "echo 'WARN BlockManager: Block rdd_18_0 already exists' >&2"], check=True)
    print("ours", file=sys.stderr, flush=True)
    assert capfd.readouterr().err == "ours\n"
    assert log.read_text() == "WARN BlockManager: Block rdd_18_0 already exists\n"


@pytest.mark.slow
def test_checks_on_spark_keeps_spark_s_log_lines_off_the_terminal(tmp_path: Path) -> None:
    """A process of its own: the JVM starts with the command, as it does for a person typing it. Its lines
    (log4j's banner and warnings, the JVM's own) are in the output folder's spark.log instead."""
    from checks.sample import generate_feed, write_feed

    feed = tmp_path / "feed"
    write_feed(generate_feed(40, 3, seed=2), feed)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "checks", "dedup", "--engine", "spark", "--feed", str(feed), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "log4j" in line or "WARN" in line] == []
    assert "log4j" in (out / "spark.log").read_text()

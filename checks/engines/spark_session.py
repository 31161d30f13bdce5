"""The Spark engine's one session per process, on the master chosen before it starts (``local[*]`` by default).

Apart from ``checks.engines.spark`` so that its helpers (Hadoop's file listing, the reconciliation,
the suites' figures) reach the session without importing the engine that imports them. The JVM's own
output (Spark's log lines, the JVM's warnings) goes to the log file chosen before it starts, if any,
never to the terminal the summary is drawn on.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from checks.engines import spark_s3a

DEFAULT_MASTER = "local[*]"

_settings: dict[str, Any] = {"master": DEFAULT_MASTER, "log": None}


def configure(*, master: str = DEFAULT_MASTER, log: Path | None = None) -> None:
    """Choose the Spark master (``local[*]``, ``spark://host:7077``, ...) and the file the JVM's output is appended to
    (None: the terminal's standard error) before the first session starts."""
    _settings["master"] = master
    _settings["log"] = log


def session() -> Any:
    """The one Spark session of this process, started on first use."""
    from pyspark import SparkContext

    starts_jvm = SparkContext._gateway is None
    log = _settings["log"]
    with jvm_output_to(log) if starts_jvm and log is not None else nullcontext():
        return _session()


@contextmanager
def jvm_output_to(log: Path) -> Iterator[None]:
    """Processes started inside append their standard error to ``log``; this process's own is back on leaving.

    The JVM that PySpark starts inherits the descriptor, so everything it writes for as long as it runs
    (log4j's console, the JVM's warnings) lands in the file.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as file:
            os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _session() -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python run by the executors (a pandas UDF) is this process's, with its packages, unless one is chosen.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(_settings["master"])
        .appName("checks")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # only checks.output draws on the terminal
        # A contract with a floating column is still read on the driver and its tables handed to Spark (via Arrow),
        # and a string column's texts are numbered there: give the driver room.
        .config("spark.driver.memory", os.environ.get("CHECKS_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.shuffle.partitions", os.environ.get("CHECKS_SPARK_PARTITIONS", "8"))
        .config("spark.sql.session.timeZone", "UTC")
        # No broadcast joins: a broadcast map of user keys is dense (8 bytes a key in the keys' range) and an executor
        # whose memory the run's cached tables hold cannot get it (4 M users on a 2 GB worker failed); sort-merge joins spill.
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        # The S3A connector, when given; set even when empty: PySpark's builder keeps options between sessions.
        .config("spark.jars", ",".join(spark_s3a.jars()))
        .getOrCreate()
    )

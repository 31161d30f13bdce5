"""The Spark engine's one session per process, on the master chosen before it starts (``local[*]`` by default).

Apart from ``checks.engines.spark`` so that its helpers (Hadoop's file listing, the reconciliation,
the suites' figures) reach the session without importing the engine that imports them.
"""
from __future__ import annotations

import os
from typing import Any

from checks.engines import spark_s3a

DEFAULT_MASTER = "local[*]"

_settings: dict[str, str] = {"master": DEFAULT_MASTER}


def configure(*, master: str = DEFAULT_MASTER) -> None:
    """Choose the Spark master (``local[*]``, ``spark://host:7077``, ...) before the first session starts."""
    _settings["master"] = master


def session() -> Any:
    """The one Spark session of this process, started on first use."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    return (
        SparkSession.builder.master(_settings["master"])
        .appName("checks")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # only checks.output draws on the terminal
        # The FeedCheck comes back to the driver as pandas frames (via Arrow): give the driver room.
        .config("spark.driver.memory", os.environ.get("CHECKS_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.shuffle.partitions", os.environ.get("CHECKS_SPARK_PARTITIONS", "8"))
        .config("spark.sql.session.timeZone", "UTC")
        # The S3A connector, when given; set even when empty: PySpark's builder keeps options between sessions.
        .config("spark.jars", ",".join(spark_s3a.jars()))
        .getOrCreate()
    )

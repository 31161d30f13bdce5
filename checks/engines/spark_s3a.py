"""Feeds on S3 for the Spark engine (``s3a://bucket/prefix``): what Hadoop needs to read them, and a clear error without it.

Spark reads ``s3a://`` through Hadoop's S3A connector: ``hadoop-aws`` of the same version as the
Hadoop client inside pyspark (3.5.0 for pyspark 4.3) and the AWS SDK v2 bundle it depends on.
pyspark ships neither, and they come only from Maven repositories, which this installation cannot
reach; ``require_connector`` says so in one line (exit code 2) rather than letting a JVM
ClassNotFoundException through. Credentials are never passed by checks: S3A's default provider chain
reads the standard AWS environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``) or the instance profile, so they appear on no command line and in no log.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from checks.errors import UsageError

SCHEME = "s3a"
CONNECTOR_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"


class MissingConnectorError(UsageError):
    """An ``s3a://`` path was given, but Spark's classpath lacks Hadoop's S3A connector."""


def is_s3a(path: str | Path) -> bool:
    """Whether ``path`` names an S3 location (``Path`` turns ``s3a://b/k`` into ``s3a:/b/k``; both count)."""
    return str(path).startswith(f"{SCHEME}:/")


def uri(path: str | Path) -> str:
    """The ``s3a://bucket/key`` form of ``path``, whether or not ``Path`` folded its double slash."""
    text = str(path)
    rest = text[len(f"{SCHEME}:"):].lstrip("/")
    return f"{SCHEME}://{rest}"


def require_connector(spark: Any, path: str | Path) -> None:
    """Raise ``MissingConnectorError`` unless the JVM behind ``spark`` can load the S3A filesystem."""
    if has_connector(spark):
        return
    raise MissingConnectorError(
        f"cannot read {uri(path)}: --engine spark reads s3a:// through Hadoop's S3A connector, and Spark's "
        "classpath lacks it (hadoop-aws-3.5.0.jar, matching pyspark's Hadoop 3.5.0 client, and the AWS SDK v2 "
        "bundle.jar); add both jars with spark.jars (e.g. PYSPARK_SUBMIT_ARGS='--jars a.jar,b.jar pyspark-shell') "
        "or copy the feed to a local folder"
    )


def has_connector(spark: Any) -> bool:
    """Whether Hadoop's S3A filesystem class loads in Spark's JVM (the jars of ``spark.jars`` included)."""
    jvm = spark.sparkContext._jvm
    loader = jvm.Thread.currentThread().getContextClassLoader()
    try:
        jvm.java.lang.Class.forName(CONNECTOR_CLASS, False, loader)
    except Exception:  # noqa: BLE001 - Py4J raises its own error for the JVM's ClassNotFoundException
        return False
    return True

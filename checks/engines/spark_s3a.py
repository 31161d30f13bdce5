"""Feeds and output folders on S3 for the Spark engine (``s3a://bucket/prefix``): the connector Hadoop needs, and a clear
error without it.

Spark reads ``s3a://`` through Hadoop's S3A connector (``hadoop-aws`` and the AWS SDK it was built
with). pyspark ships neither. ``bash scripts/dev setup`` installs the one copy a package registry
here holds, hadoop-aws 3.3.1 with the AWS SDK v1 bundle from the sagemaker-pyspark sdist, into this
environment, where the engine finds it; ``CHECKS_SPARK_JARS`` (comma-separated paths) names other
jars instead. Without them, ``require_connector`` says so in one line (exit code 2) rather than
letting a JVM ClassNotFoundException through.

That connector is older than pyspark's Hadoop 3.5 client, whose defaults it cannot read (durations
written "60s", credential providers of SDK v2): ``configure_connector`` gives it the same settings
in the forms it reads. An endpoint other than AWS (a local S3 server, MinIO) comes from the standard
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, as boto3 reads it. Credentials are never passed by
checks: S3A's provider chain reads the standard AWS environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) or the instance profile, so they appear on no
command line and in no log.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from checks.errors import UsageError
from checks.feed import location

SCHEME = "s3a"
CONNECTOR_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
JARS_VARIABLE = "CHECKS_SPARK_JARS"
INSTALLED_JARS = Path(sys.prefix) / "share" / "checks" / "s3a-jars"  # where `bash scripts/dev setup` puts them

_SDK_V1_CLASS = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
_SDK_V2_CLASS = "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
# Hadoop 3.5's defaults as a connector built for 3.3 reads them: plain numbers (milliseconds for the
# connection timeouts, seconds for the rest) and its default providers with SDK v1's environment one.
_PROVIDERS = "fs.s3a.aws.credentials.provider"
_SDK_V1_SETTINGS = {
    "fs.s3a.connection.establish.timeout": "30000",
    "fs.s3a.connection.timeout": "200000",
    "fs.s3a.threads.keepalivetime": "60",
    "fs.s3a.multipart.purge.age": "86400",
    _PROVIDERS: ",".join([
        "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
        "org.apache.hadoop.fs.s3a.auth.IAMInstanceCredentialsProvider",
    ]),
}


class MissingConnectorError(UsageError):
    """An ``s3a://`` path was given, but Spark's classpath lacks Hadoop's S3A connector."""


def is_s3a(path: str | Path) -> bool:
    """Whether ``path`` names an S3 location (``Path`` turns ``s3a://b/k`` into ``s3a:/b/k``; both count)."""
    return str(path).startswith(f"{SCHEME}:/")


def jars() -> list[str]:
    """The jars for Spark's classpath: those ``CHECKS_SPARK_JARS`` names (comma-separated; empty for none),
    else the S3A connector installed into this environment, if it is."""
    given = os.environ.get(JARS_VARIABLE)
    if given is None:
        return sorted(str(path) for path in INSTALLED_JARS.glob("*.jar"))
    return [path.strip() for path in given.split(",") if path.strip()]


def require_connector(spark: Any, path: str | Path, *, writing: bool = False) -> None:
    """Raise ``MissingConnectorError`` unless the JVM behind ``spark`` can load the S3A filesystem; configure it.

    ``writing``: ``path`` is an output folder (``--out``), not something to read."""
    if has_connector(spark):
        configure_connector(spark)
        return
    doing, reads, otherwise = ("write", "writes", "give a local --out folder") if writing else (
        "read", "reads", "copy the feed to a local folder")
    raise MissingConnectorError(
        f"cannot {doing} {location(path)}: --engine spark {reads} s3a:// through Hadoop's S3A connector, and Spark's "
        "classpath lacks it: `bash scripts/dev setup` installs it (hadoop-aws-3.3.1.jar and "
        f"aws-java-sdk-bundle-1.11.901.jar, into {INSTALLED_JARS}), or set {JARS_VARIABLE} to a hadoop-aws jar "
        f"and the AWS SDK bundle it was built with, or {otherwise}"
    )


def configure_connector(spark: Any) -> None:
    """Settings S3A reads when it first opens a bucket: the endpoint from the AWS environment, and for the
    older connector Hadoop 3.5's defaults in the forms it reads."""
    context = spark.sparkContext
    settings = context._jsc.hadoopConfiguration()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        settings.set("fs.s3a.endpoint", endpoint)
        settings.set("fs.s3a.path.style.access", "true")  # a local server has no bucket host names
        settings.set("fs.s3a.connection.ssl.enabled", str(endpoint.startswith("https:")).lower())
    if _loads(context, _SDK_V1_CLASS) and not _loads(context, _SDK_V2_CLASS):
        for key, value in _SDK_V1_SETTINGS.items():
            current = settings.get(key) or ""
            # Only Hadoop 3.5's own forms are replaced ("60s", SDK v2 classes): a value set by the user stays.
            if not current.strip().isdigit() and (key != _PROVIDERS or "software.amazon.awssdk" in current):
                settings.set(key, value)


def has_connector(spark: Any) -> bool:
    """Whether Hadoop's S3A filesystem class loads in Spark's JVM (the jars of ``spark.jars`` included)."""
    return _loads(spark.sparkContext, CONNECTOR_CLASS)


def _loads(context: Any, name: str) -> bool:
    jvm = context._jvm
    loader = jvm.Thread.currentThread().getContextClassLoader()
    try:
        jvm.java.lang.Class.forName(name, False, loader)
    except Exception:  # noqa: BLE001 - Py4J raises its own error for the JVM's ClassNotFoundException
        return False
    return True

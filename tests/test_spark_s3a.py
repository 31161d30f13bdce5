"""``--engine spark`` on ``s3a://``: a feed and tables on a moto S3 server on loopback, read through Hadoop's S3A
connector (installed by ``bash scripts/dev setup``), give what the same files give from a local folder; an output
folder there holds what a local one does."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.cli import main
from checks.engines import get_engine
from checks.errors import ChecksError
from checks.results import pandas_table
from checks.sample import generate_case, write_case
from tests.test_engines import FAULTS, assert_same_feed_check
from tests.frames import assert_same_rows

pytestmark = pytest.mark.slow

BUCKET = "feeds"
OUTPUTS = "outputs"  # the bucket the output folders go to


@pytest.fixture(scope="module")
def s3a_engine(s3_endpoint: str) -> Iterator:
    """The Spark engine with the S3A connector on its classpath, pointed at the moto server by the AWS environment."""
    from checks.engines.spark_s3a import INSTALLED_JARS

    if len(list(INSTALLED_JARS.glob("*.jar"))) < 2:
        if os.environ.get("CI"):
            pytest.fail(f"S3A connector missing in CI: {INSTALLED_JARS} (bash scripts/dev setup installs it)")
        pytest.skip("S3A connector not installed (bash scripts/dev setup)")
    values = {
        "CHECKS_SPARK_PARTITIONS": "1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing-key-id",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    unset = ("CHECKS_SPARK_JARS", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN")  # the installed connector, found by default
    saved = {name: os.environ.get(name) for name in (*values, *unset)}
    os.environ.update(values)
    for name in unset:
        os.environ.pop(name, None)
    _fresh_jvm()  # jars join the driver's classpath only when its JVM starts
    engine = get_engine("spark")
    spark = engine.session()
    try:
        yield engine
    finally:
        spark.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _fresh_jvm() -> None:
    """Stop the JVM an earlier test module's Spark session left running, so that the next session starts one."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        process = getattr(gateway, "proc", None)  # the JVM pyspark launched
        gateway.shutdown()
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
            if process.stdin is not None:
                process.stdin.close()
        SparkContext._gateway = None
        SparkContext._jvm = None


@pytest.fixture(scope="module")
def local_case(tmp_path_factory) -> Path:
    """A seeded case with a planted fault in the platform's table and a few faults in the feed, on disk."""
    folder = tmp_path_factory.mktemp("case")
    write_case(generate_case(users=150, deltas=5, seed=23), folder)
    for fault in ("bad cell", "spend decrease", "no rows"):
        FAULTS[fault](folder / "feed")
    return folder


@pytest.fixture(scope="module")
def bucket(s3a_engine, s3_endpoint: str, local_case: Path) -> str:
    """The case uploaded under ``s3a://feeds/case/``."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    for path in local_case.rglob("*.csv"):
        client.upload_file(str(path), BUCKET, f"case/{path.relative_to(local_case).as_posix()}")
    return f"s3a://{BUCKET}/case"


def test_a_feed_on_s3_is_checked_as_the_same_feed_on_disk(s3a_engine, bucket: str, local_case: Path) -> None:
    expected = get_engine("pandas").check_feed_folder(local_case / "feed")
    assert not expected.passed and "delta3.csv" in expected.quarantined  # the faults are there to find
    assert_same_feed_check(s3a_engine.check_feed_folder(f"{bucket}/feed"), expected)


def test_a_table_on_s3_reads_as_on_disk_and_a_missing_one_is_one_line(s3a_engine, bucket: str, local_case: Path) -> None:
    name = "platform-user-summary.csv"
    assert_same_rows(pandas_table(s3a_engine.read_table(f"{bucket}/{name}")), get_engine("pandas").read_table(local_case / name))
    with pytest.raises(ChecksError, match=rf"^s3a://{BUCKET}/case/absent.csv: file not found$"):
        s3a_engine.read_table(f"{bucket}/absent.csv")
    with pytest.raises(ChecksError, match="feed folder not found"):
        s3a_engine.discover_deltas(f"s3a://{BUCKET}/nowhere")


@pytest.fixture(scope="module")
def outputs(s3a_engine, s3_endpoint: str):
    """A boto3 client of the moto server, with the bucket ``OUTPUTS`` the output folders go to."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=OUTPUTS)
    return client


@pytest.fixture(scope="module")
def runs(outputs, bucket: str, local_case: Path, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """`checks run` with every input on S3: by Spark into a local folder and into ``s3a://outputs/run`` (downloaded
    into a local folder to compare), and by the default engine on the same files on disk; each run's folder and
    summary."""
    runs = {}
    for name, engine, root, out in (
        ("s3", "spark", bucket, None),
        ("s3 out", "spark", bucket, f"s3a://{OUTPUTS}/run"),
        ("local", "polars", str(local_case), None),
    ):
        folder = tmp_path_factory.mktemp(name.replace(" ", "-"))
        code = main([
            "run", "--engine", engine, "--no-docs", "--json", "--out", out or str(folder / "out"), "--gx-dir", str(folder / "gx"),
            "--feed", f"{root}/feed", "--platform", f"{root}/platform-user-summary.csv",
            "--customer", f"{root}/customer-user-summary.csv",
        ])
        assert code == 1  # the planted fault fails the checks
        if out is not None:
            _download(outputs, OUTPUTS, "run/", folder / "out")
        runs[name] = (folder / "out", json.loads((folder / "out" / "summary.json").read_text()))
    return runs


def _download(client, bucket: str, prefix: str, folder: Path) -> None:
    """Every object under ``prefix`` into ``folder`` (S3A's empty folder markers, keys ending in ``/``, would fail)."""
    for entry in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        assert not entry["Key"].endswith("/"), entry["Key"]
        target = folder / entry["Key"][len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, entry["Key"], str(target))


def test_checks_run_on_s3_writes_what_a_local_run_writes(runs) -> None:
    """`checks run --engine spark` with every input on S3 against the default engine on the same files on disk."""
    (s3, s3_summary), (local, local_summary) = runs["s3"], runs["local"]
    assert s3_summary["diagnosis"] == local_summary["diagnosis"]
    assert s3_summary["diagnosis"]["root_causes"]
    assert s3_summary["feed"]["files"] == local_summary["feed"]["files"]
    for written in ("deduplicated.csv", "discrepancies.csv", "email-engineer.md"):
        assert (s3 / written).read_bytes() == (local / written).read_bytes()


_RUN_FACTS = ("timings_seconds", "cpu_seconds", "helper_process", "peak_memory_mb_after", "outputs")


def _facts_of_the_data(summary: dict) -> dict:
    """A run's summary without what differs from one run to the next: when and how long it ran, where the files are."""
    facts = {key: value for key, value in summary.items() if key not in _RUN_FACTS}
    facts["suites"] = {key: value for key, value in facts["suites"].items() if key != "run_time"}
    return facts


def test_checks_run_into_an_s3_folder_writes_there_what_it_writes_in_a_local_one(runs) -> None:
    """Every file byte for byte (the email's attachment read back from S3), the summary but for paths and timings."""
    (local, local_summary), (remote, remote_summary) = runs["s3"], runs["s3 out"]
    names = sorted(path.relative_to(local).as_posix() for path in local.rglob("*") if path.is_file())
    assert {"deduplicated.parquet", "failures.csv", "discrepancies.csv", "email-engineer.eml", "incident.md"} <= set(names)
    # Nothing else on S3: no part-file folder, no staging file left.
    assert sorted(path.relative_to(remote).as_posix() for path in remote.rglob("*") if path.is_file()) == names
    for name in names:
        if name != "summary.json":
            assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    assert _facts_of_the_data(remote_summary) == _facts_of_the_data(local_summary)
    assert remote_summary["outputs"] == {
        name: f"s3a://{OUTPUTS}/run/{Path(path).relative_to(local).as_posix()}" for name, path in local_summary["outputs"].items()
    }


def test_checks_dedup_into_an_s3_folder_writes_there_what_it_writes_in_a_local_one(outputs, bucket: str, tmp_path: Path) -> None:
    for out in (str(tmp_path / "local"), f"s3a://{OUTPUTS}/dedup"):
        assert main(["dedup", "--engine", "spark", "--out", out, "--feed", f"{bucket}/feed"]) == 1  # a file is quarantined
    _download(outputs, OUTPUTS, "dedup/", tmp_path / "remote")
    names = ["deduplicated.csv", "deduplicated.parquet"]
    assert sorted(path.name for path in (tmp_path / "remote").iterdir()) == names
    for name in names:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


@pytest.mark.parametrize(
    ("engine", "out", "error"),
    [
        ("polars", f"s3a://{OUTPUTS}/polars", rf"--out s3a://{OUTPUTS}/polars: an output folder at a URI is written by --engine spark only"),
        ("duckdb", f"s3a://{OUTPUTS}/duckdb", "is written by --engine spark only; give a local folder"),
        ("spark", "s3a://no-such-bucket/run", r"s3a://no-such-bucket/run: cannot write the output folder: no such bucket"),
        ("spark", f"s3a://{OUTPUTS}/run/summary.json", r"run/summary.json: the output folder is a file"),
    ],
)
def test_an_output_folder_on_s3_that_cannot_be_written_is_one_line(runs, bucket: str, engine: str, out: str, error: str, capsys) -> None:
    code = main(["run", "--engine", engine, "--no-docs", "--out", out, "--feed", f"{bucket}/feed"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and re.search(error, lines[0]), lines


def test_an_output_folder_on_s3_without_the_connector_is_one_line(s3a_engine, bucket: str, monkeypatch, capsys) -> None:
    from checks.engines import spark_s3a

    monkeypatch.setattr(spark_s3a, "has_connector", lambda spark: False)
    code = main(["dedup", "--engine", "spark", "--out", f"s3a://{OUTPUTS}/dedup", "--feed", f"{bucket}/feed"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert re.search(rf"cannot write s3a://{OUTPUTS}/dedup: .*scripts/dev setup.*give a local --out folder$", lines[0])


def test_checks_validate_a_delta_on_s3_against_its_history(s3a_engine, bucket: str, local_case: Path, capsys) -> None:
    answers = {}
    for name, engine, root in (("s3", "spark", f"{bucket}/feed"), ("local", "pandas", str(local_case / "feed"))):
        code = main(["validate", "--engine", engine, "--json", f"{root}/delta4.csv", "--history", root])
        answers[name] = (code, json.loads(capsys.readouterr().out))
    assert answers["s3"] == answers["local"]
    assert answers["local"][0] == 1 and answers["local"][1]["skipped_history"]  # the planted faults show

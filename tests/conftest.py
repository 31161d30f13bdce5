"""Shared fixtures.

Planted faults in the fixtures (the tests assert against these):
- ``sample_case``: a seeded synthetic case whose platform table never ingested one update delta
  (``SampleCase.skipped_file``); its feed itself is valid.
- ``broken_delta_text``: one delta file with exactly ``BROKEN_DELTA_FAILURES`` planted cell failures
  (listed in ``BROKEN_DELTA_CELLS``).
- ``johnnys_jeans``: the real first incident in ``../shared/cases/johnnys-jeans``; required in CI.

And real parts: ``spark_engine`` (a local Spark session per module) and ``s3_endpoint`` (a moto S3
server on loopback per test session).
"""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.engines import get_engine
from checks.sample import SampleCase, generate_case

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_CASE = PROJECT_ROOT.parent / "shared" / "cases" / "johnnys-jeans"

# (line, column, check, value) of every failure planted in ``broken_delta_text``.
BROKEN_DELTA_CELLS = (
    (2, "total_spend", "greater_than_or_equal_to(0)", "-5"),
    (3, "total_spend", "is_integer", "abc"),
    (4, "batch_id", "is_integer", "7.0"),
    (5, "user_id", "greater_than(0)", "0"),
    (6, "loyalty_credits", "is_integer", ""),
    (7, "user_id", "field_uniqueness", "8"),
    (8, "user_id", "field_uniqueness", "8"),
)
BROKEN_DELTA_FAILURES = len(BROKEN_DELTA_CELLS)


@pytest.fixture(scope="session")
def sample_case() -> SampleCase:
    return generate_case(users=400, deltas=5, seed=11)


@pytest.fixture
def broken_delta_text() -> str:
    return (
        "user_id,total_spend,count_saved_items,loyalty_credits,batch_id\n"
        "1,-5,1,1,1\n"
        "2,abc,1,1,2\n"
        "3,10,1,1,7.0\n"
        "0,10,1,1,4\n"
        "5,10,1,,5\n"
        "8,10,1,1,6\n"
        "8,11,1,1,7\n"
    )


@pytest.fixture(scope="session")
def johnnys_jeans() -> Path:
    """The real incident's folder; missing files fail the test in CI instead of skipping it."""
    if not (SHARED_CASE / "delta0.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"shared case missing in CI: {SHARED_CASE}")
        pytest.skip("shared case not present")
    return SHARED_CASE


def write_csv(path: Path, text: str, *, newline: str = "\n", bom: bool = False) -> Path:
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


@pytest.fixture(scope="module")
def spark_engine():
    """The Spark engine with one local Spark session for the module using it: starting one costs seconds.

    The test feeds are tiny: one shuffle partition saves a task per partition in every job, and
    adaptive query execution only adds planning time (about a sixth of these tests' time).
    """
    # No S3A connector: one test asserts the error without it (``tests/test_spark_s3a.py`` has its own session).
    settings = {"CHECKS_SPARK_PARTITIONS": "1", "CHECKS_SPARK_JARS": ""}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    engine = get_engine("spark")
    spark = engine.session()
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    yield engine
    spark.stop()
    for name, value in before.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server over HTTP on loopback, shared by the whole session."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()

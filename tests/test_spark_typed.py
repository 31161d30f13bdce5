"""Spark reads a contract of typed columns itself: exact decimals, timestamps, dates, booleans and optional integers
parsed in Spark SQL as ``checks.encoding.Codec`` parses them (``checks.engines.spark_cells``), every output the
default engine's. The feed is the second sample written in the typed contract's columns
(``contracts/typed-accounts.yaml``, ``checks.sample_accounts.as_typed``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from checks.contract import load_contract
from checks.encoding import Encoding
from checks.sample_accounts import CONTRACT_PATH, TYPED_CONTRACT_PATH, generate_accounts_case, write_accounts_case
from tests.test_engines import assert_runs_write_the_same, run_both


def write_typed_case(folder: Path, *, accounts: int = 120, seed: int = 11) -> Path:
    """A typed case (a file never loaded) in ``folder``: its case file."""
    return write_accounts_case(generate_accounts_case(accounts=accounts, files=4, seed=seed), folder, typed=True)


def edit(path: Path, line: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(path, index=False)


@pytest.fixture
def encoding() -> Encoding:
    return Encoding.of(load_contract(TYPED_CONTRACT_PATH))


def test_spark_reads_typed_and_text_columns_itself_but_not_floating_numbers(encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark import _reads_itself
    from tests.test_contract_shapes import MEMBERS_CONTRACT

    assert _reads_itself(encoding)
    assert _reads_itself(Encoding.of(load_contract(CONTRACT_PATH)))  # text columns, coded in Spark
    (tmp_path / "members.yaml").write_text(MEMBERS_CONTRACT)
    assert not _reads_itself(Encoding.of(load_contract(tmp_path / "members.yaml")))  # a floating number


@pytest.mark.slow
def test_spark_checks_a_typed_feed_as_pandas_does(spark_engine, encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark_deltas import SparkDelta, SparkFailures

    feed = write_typed_case(tmp_path / "clean").parent / "feed"
    checked = run_both("spark", feed, encoding)
    assert checked is not None and not len(checked.failures)
    assert all(isinstance(delta, SparkDelta) for delta in spark_engine.check_feed_folder(feed, encoding=encoding).deltas)

    feed = write_typed_case(tmp_path / "broken").parent / "feed"
    names = sorted(path.name for path in feed.glob("*.csv"))
    edit(feed / names[1], 3, "lifetime_value", "12.345")  # more decimals than the column holds
    edit(feed / names[1], 4, "exported_at", "")  # a version missing
    edit(feed / names[2], 5, "active", "yes")  # no boolean
    edit(feed / names[1], 5, "lifetime_value", "-1.50")  # below the minimum: shown as written
    edit(feed / names[2], 6, "tier", "7")  # not an allowed value
    edit(feed / names[2], 7, "referrer_no", "x12")  # an optional column's cell that is no integer
    edit(feed / names[3], 2, "lifetime_value", "0.01")  # the amount falls
    expected = run_both("spark", feed, encoding)
    failed = set(zip(expected.failures["column"], expected.failures["check"], expected.failures["value"]))
    assert {("lifetime_value", "is_decimal", "12.345"), ("exported_at", "required", ""),
            ("active", "is_boolean", "yes"), ("lifetime_value", "greater_than_or_equal_to(0)", "-1.50"),
            ("tier", "invalidValues", "7"), ("referrer_no", "is_integer", "x12")} <= failed, failed
    assert "lifetime_value_never_decreases" in set(expected.failures["check"])
    # Each file's failing cells are worded in Spark, and stay there.
    checked = spark_engine.check_feed_folder(feed, encoding=encoding)
    assert all(isinstance(validation.failures, SparkFailures) for validation in checked.validations[1:3])


@pytest.mark.slow
def test_spark_leaves_a_literal_it_parses_otherwise_to_the_pandas_path(spark_engine, encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark_deltas import SparkDelta

    feed = write_typed_case(tmp_path / "case").parent / "feed"
    names = sorted(path.name for path in feed.glob("*.csv"))
    edit(feed / names[0], 3, "exported_at", "2026-01-01T03:04:05.25+02:00")  # a fraction and an offset: Spark's
    edit(feed / names[1], 3, "exported_at", "2026-01-02T03:04:05+18:30")  # an offset beyond Spark's 18 hours
    edit(feed / names[2], 2, "account_no", "99999999999999999999")  # beyond int64
    edit(feed / names[3], 3, "opened", "2026-02-30")  # no such day: pandas reads no date there, and says so
    expected = run_both("spark", feed, encoding)
    assert ("opened", "is_date", "2026-02-30") in set(zip(expected.failures["column"], expected.failures["check"], expected.failures["value"]))
    deltas = {delta.name: delta for delta in spark_engine.check_feed_folder(feed, encoding=encoding).deltas}
    assert not isinstance(deltas[names[1]], SparkDelta) and isinstance(deltas[names[0]], SparkDelta)


def _timestamp_literals(count: int, seed: int) -> list[str]:
    """Seeded timestamp literals of every form ``checks.encoding``'s pattern takes: T or a space, minutes with or without
    seconds and a fraction of 1 to 6 digits, Z, an offset with or without its colon, or no zone; days up to 31 in
    any month, years 1 to 9999."""
    import random

    draw = random.Random(seed)
    literals = []
    for _ in range(count):
        day = draw.randint(1, 31 if draw.random() < 0.9 else 29)
        text = (f"{draw.choice([1, 1899, 1970, 2024, 2026, 9999]):04d}-{draw.randint(1, 12):02d}-{day:02d}"
                f"{draw.choice('T ')}{draw.choice([0, 23, draw.randint(0, 23)]):02d}:{draw.randint(0, 59):02d}")
        if draw.random() < 0.85:
            text += f":{draw.choice([0, 59, draw.randint(0, 59)]):02d}"
            if draw.random() < 0.6:
                text += "." + "".join(draw.choice("0123456789") for _ in range(draw.randint(1, 6)))
        zone = draw.random()
        if zone < 0.3:
            text += "Z"
        elif zone < 0.75:
            hours, minutes = draw.choice([0, 1, 5, 9, 13, 14, 17]), draw.choice([0, 30, 45, draw.randint(0, 59)])
            text += f"{draw.choice('+-')}{hours:02d}{':' if draw.random() < 0.6 else ''}{minutes:02d}"
        literals.append(text)
    return literals


@pytest.mark.slow
def test_spark_reads_timestamps_as_pandas_does_or_leaves_them_undecided(spark_engine, encoding: Encoding) -> None:
    import pyarrow as pa
    from pyspark.sql import functions as F

    from checks.engines import spark_cells
    from checks.engines.spark_deltas import ROW

    edges = ["2026-01-02T23:59:60Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05+18:30", "0001-01-01T00:30:00+01:00",
             "9999-12-31T23:30:00-01:00", "2024-02-29 12:00", "2023-02-29T12:00:00Z", "2026-06-30T00:00:00.000001-0001"]
    texts = _timestamp_literals(20_000, seed=5) + edges
    values, valid = encoding.codecs["exported_at"].parse(pd.Series(texts, dtype=object))
    frame = spark_engine.session().createDataFrame(pa.table({ROW: np.arange(len(texts)), "exported_at": texts}))
    cells = spark_cells.read(frame, encoding, ["exported_at"])
    read = (spark_cells.parsed(cells, ["exported_at"]).select(ROW, F.col("exported_at").cast("string").alias("value"))
            .toArrow().to_pandas().sort_values(ROW))
    decided = read["value"].notna().to_numpy()
    assert valid[decided].all()  # what Spark reads, pandas reads, and to the same microsecond
    assert [int(value) for value in read["value"][decided]] == values[decided].tolist()
    generated = np.arange(len(texts)) < 20_000
    assert decided[valid & generated].all()  # and every generated literal pandas reads, Spark reads too
    assert not decided[~generated][:4].any()  # a leap second, hour 24, an offset of 18 hours, a year 0 in UTC: pandas's


@pytest.mark.slow
def test_spark_reads_a_typed_table_in_spark(spark_engine, encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark_deltas import SparkTable
    from checks.feed import read_table
    from tests.frames import assert_same_rows

    case = write_typed_case(tmp_path / "case").parent
    table = spark_engine.read_table(case / "platform-accounts.csv", encoding)
    assert isinstance(table, SparkTable)
    assert_same_rows(table.frame, read_table(case / "platform-accounts.csv", encoding))


@pytest.mark.slow
def test_spark_run_on_a_typed_feed_writes_what_the_default_engine_writes(spark_engine, tmp_path: Path, monkeypatch) -> None:
    from checks.config import load_case
    from checks.engines.spark_deltas import SparkDelta, SparkTable
    from checks.engines.spark_users import SparkUsers

    case_file = write_typed_case(tmp_path / "case")
    # A version written with a space, a fraction and an offset, the same moment: the file stays in Spark all the same.
    first = sorted((case_file.parent / "feed").glob("*.csv"))[0]
    moment = pd.Timestamp(pd.read_csv(first, dtype=str).loc[0, "exported_at"]) + pd.Timedelta(hours=2)
    edit(first, 2, "exported_at", moment.strftime("%Y-%m-%d %H:%M:%S.000+0200"))
    # No delta, table or listed user is collected to the driver, nor a table for the suites: every one stays in Spark.
    for held in (SparkDelta, SparkTable, SparkUsers):
        monkeypatch.setattr(held, "frame", property(lambda self: pytest.fail(f"{type(self).__name__} collected")))
    monkeypatch.setattr("checks.engines.spark_suites.collected", lambda table: pytest.fail("a table collected for the suites"))
    summary = assert_runs_write_the_same(load_case(case_file), "spark", tmp_path)
    assert summary["diagnosis"]["root_causes"][0]["kind"] == "file_not_ingested"
    assert summary["diagnosis"]["totals"]["finance"] == summary["diagnosis"]["totals"]["customer"]  # dollars, not cents
    parquet = {name: pd.read_parquet(tmp_path / name / "out" / "deduplicated.parquet") for name in ("polars", "spark")}
    pd.testing.assert_frame_equal(parquet["spark"], parquet["polars"])
    assert b",," in (tmp_path / "spark" / "out" / "deduplicated.csv").read_bytes()  # an empty optional cell stays empty


@pytest.mark.slow
def test_a_typed_platform_value_outside_the_contract_s_set_fails_its_suite_in_spark_as_by_default(spark_engine, tmp_path: Path) -> None:
    from checks.config import load_case

    case_file = write_typed_case(tmp_path / "case")
    edit(case_file.parent / "platform-accounts.csv", 2, "tier", "7")  # the deltas' rule: tier in 0-3
    edit(case_file.parent / "platform-accounts.csv", 3, "tier", "9")
    summary = assert_runs_write_the_same(load_case(case_file), "spark", tmp_path)
    (platform,) = [table for table in summary["suites"]["tables"] if table["table"] == "platform"]
    (tiers,) = [outcome for outcome in platform["outcomes"] if outcome["check"] == "tier_invalidValues"]
    assert (tiers["success"], tiers["unexpected_count"]) == (False, 2)


def test_the_typed_sample_runs_under_its_shipped_contract_and_suite(tmp_path: Path) -> None:
    from checks.config import load_case
    from checks.runner import run_case

    case = load_case(write_typed_case(tmp_path / "case"))
    assert case.contract == TYPED_CONTRACT_PATH.resolve()
    result = run_case(case, out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False)
    assert result.feed.passed and not result.passed  # a clean feed; the platform never loaded one file
    assert [cause.kind for cause in result.diagnosis.root_causes] == ["file_not_ingested"]
    written = (tmp_path / "out" / "deduplicated.csv").read_text().splitlines()
    assert written[0] == "account_no,tier,referrer_no,orders,lifetime_value,active,opened,exported_at,source_file,source_row"

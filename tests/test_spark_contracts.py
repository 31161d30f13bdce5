"""Spark reads a contract of integer columns other than the first customer's itself: its names, bounds, allowed
values and unique columns in Spark SQL, with Pandera's PySpark models beside it, and every output the default
engine's (``checks.engines.spark._reads_itself``).

The contract is the first customer's with every column renamed, a maximum and an allowed-values rule (and a second
unique column); the feed is a generated one written under those names.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from checks.contract import DEFAULT_CONTRACT_PATH, load_contract
from checks.encoding import Encoding
from checks.sample import generate_case, write_case
from tests.test_engines import assert_runs_write_the_same, run_both

RENAMED = {"user_id": "member_no", "total_spend": "points", "count_saved_items": "visits",
           "loyalty_credits": "tier", "batch_id": "export_seq"}
VISITS_AT_MOST, TIERS = 45, [0, 1, 2, 3]


def write_contract(folder: Path, *, optional: str | None = None, unique: str | None = None) -> Path:
    """The renamed contract (``optional``: a column that may be empty; ``unique``: one whose values appear once a file)."""
    document = yaml.safe_load(DEFAULT_CONTRACT_PATH.read_text(encoding="utf-8"))
    table = document["schema"][0]
    table["name"] = "member_points"
    for item in table["properties"]:
        item["name"] = RENAMED[item["name"]]
        if item["name"] == "visits":
            item["logicalTypeOptions"]["maximum"] = VISITS_AT_MOST
        if item["name"] == "tier":
            item["quality"] = [{"metric": "invalidValues", "arguments": {"validValues": TIERS}, "mustBe": 0}]
        if item["name"] == optional:
            item["required"] = False
        if item["name"] == unique:
            item["unique"] = True
    path = folder / "member-points.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_renamed_case(folder: Path, *, users: int = 150, seed: int = 3) -> Path:
    """A generated case (a file never loaded) under the renamed contract's names, its tiers and visits in bounds."""
    write_case(generate_case(users, 5, seed=seed), folder)
    for path in [*sorted((folder / "feed").glob("*.csv")), folder / "platform-user-summary.csv", folder / "customer-user-summary.csv"]:
        frame = pd.read_csv(path)
        frame["loyalty_credits"] = frame["user_id"] % len(TIERS)
        frame["count_saved_items"] = frame["count_saved_items"].clip(upper=VISITS_AT_MOST)
        frame.rename(columns=RENAMED).to_csv(path, index=False)
    return folder


def edit(path: Path, line: int, column: str, value: str) -> None:
    lines = path.read_text().split("\n")
    cells = lines[line - 1].split(",")
    cells[list(RENAMED.values()).index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines))


@pytest.fixture
def encoding(tmp_path: Path) -> Encoding:
    return Encoding.of(load_contract(write_contract(tmp_path)))


def test_spark_reads_a_contract_of_other_integer_columns_itself(encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark import _reads_itself
    from checks.rules import first_customer_rules

    assert _reads_itself(encoding) and not first_customer_rules(encoding)
    optional = Encoding.of(load_contract(write_contract(tmp_path, optional="tier")))
    assert not optional.contract.column("tier").required and _reads_itself(optional)  # an empty cell is NULL there


@pytest.mark.slow
def test_spark_checks_a_feed_of_other_integer_columns_as_pandas_does(spark_engine, encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark_deltas import SparkDelta
    from checks.rules import BATCH_MONOTONIC

    feed = write_renamed_case(tmp_path / "case") / "feed"
    edit(feed / "delta1.csv", 3, "visits", str(VISITS_AT_MOST + 1))  # above the maximum
    edit(feed / "delta1.csv", 4, "tier", "7")  # not an allowed value
    edit(feed / "delta2.csv", 5, "points", "12x")  # not an integer
    edit(feed / "delta3.csv", 2, "export_seq", "1")  # a version below an earlier file's
    expected = run_both("spark", feed, encoding)
    failed = set(zip(expected.failures["column"], expected.failures["check"]))
    assert {("visits", f"less_than_or_equal_to({VISITS_AT_MOST})"), ("tier", "invalidValues"), ("points", "is_integer"),
            ("export_seq", BATCH_MONOTONIC)} <= failed, failed
    checked = spark_engine.check_feed_folder(feed, encoding=encoding)
    assert checked.deltas and all(isinstance(delta, SparkDelta) for delta in checked.deltas)


@pytest.mark.slow
def test_spark_fails_a_second_unique_column_as_pandas_does(spark_engine, tmp_path: Path) -> None:
    from checks.rules import FIELD_UNIQUENESS

    encoding = Encoding.of(load_contract(write_contract(tmp_path, unique="tier")))
    expected = run_both("spark", write_renamed_case(tmp_path / "case", users=40) / "feed", encoding)
    assert set(expected.failures.loc[expected.failures["check"] == FIELD_UNIQUENESS, "column"]) == {"tier"}


@pytest.mark.slow
def test_spark_reads_a_table_of_other_integer_columns_in_spark(spark_engine, encoding: Encoding, tmp_path: Path) -> None:
    from checks.engines.spark_deltas import SparkTable
    from checks.feed import read_table
    from tests.frames import assert_same_rows

    case = write_renamed_case(tmp_path / "case")
    table = spark_engine.read_table(case / "platform-user-summary.csv", encoding)
    assert isinstance(table, SparkTable)
    assert_same_rows(table.frame, read_table(case / "platform-user-summary.csv", encoding))


@pytest.mark.slow
def test_spark_run_on_other_integer_columns_writes_what_the_default_engine_writes(
    spark_engine, encoding: Encoding, tmp_path: Path, monkeypatch
) -> None:
    from checks.config import load_case
    from checks.contract_suite import generate_suite

    contract = write_contract(tmp_path)
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps(generate_suite(load_contract(contract))), encoding="utf-8")
    monkeypatch.setattr("checks.suites.run.contract_suite_path", lambda _: suite)
    case = load_case(write_renamed_case(tmp_path / "case") / "case.toml").override(contract=contract)
    summary = assert_runs_write_the_same(case, "spark", tmp_path)
    assert summary["diagnosis"]["root_causes"][0]["kind"] == "file_not_ingested"
    assert b"member_no" in (tmp_path / "spark" / "out" / "deduplicated.csv").read_bytes()

"""Reconciliation in Spark SQL gives exactly the default engine's ``Reconciliation`` and ``Diagnosis``: differential tests."""
from __future__ import annotations

import pickle
from collections.abc import Callable

import pandas as pd
import pytest

from checks.dedup import deduplicate
from checks.diagnose import diagnose
from checks.model import Delta, stack_feed
from checks.reconcile import Reconciliation, reconcile
from checks.results import pandas_table
from tests import faults
from tests.test_reconcile import FEED, _mixed_platform

pytestmark = pytest.mark.slow


def _unknown_batches() -> pd.DataFrame:
    """Three users loaded at a batch_id just below their latest: a batch the feed never had for them."""
    table = faults.expected(FEED)
    table.iloc[:3, table.columns.get_loc("batch_id")] -= 1
    return table


def _empty() -> pd.DataFrame:
    return faults.expected(FEED).iloc[:0]


PLATFORMS: dict[str, Callable[[], pd.DataFrame]] = {
    "every user matches": lambda: faults.expected(FEED),
    "mixed faults": _mixed_platform,
    "file not ingested": lambda: faults.without_file(FEED, 2),
    "file cut short": lambda: faults.truncated(FEED, 3, 40),
    "batch_id compared as text": lambda: faults.string_dedup(FEED),
    "last file loaded wins": lambda: faults.last_file_wins(FEED, [0, 3, 1, 4, 2]),
    "not deduplicated": lambda: faults.not_deduplicated(FEED),
    "duplicate rows": lambda: faults.with_duplicates(FEED, 7, seed=3),
    "dropped users": lambda: faults.dropped(FEED, 9, seed=4),
    "strangers": lambda: faults.with_strangers(FEED, 5, seed=5),
    "drifted values": lambda: faults.drifted(FEED, 6, seed=6, column="count_saved_items"),
    "unknown batches": _unknown_batches,
    "empty table": _empty,
}
CUSTOMERS: dict[str, Callable[[], pd.DataFrame]] = {
    "customer matches": lambda: faults.expected(FEED),
    "customer dropped and drifted": lambda: faults.drifted(FEED, 4, seed=8).drop(index=[5, 6, 7]),
    "customer with strangers and repeats": lambda: pd.concat(
        [faults.with_strangers(FEED, 3, seed=9), faults.expected(FEED).iloc[:4]]
    ),
}


def _both(spark_engine, platform: pd.DataFrame, customer: pd.DataFrame | None = None) -> tuple[Reconciliation, Reconciliation]:
    from checks.engines import spark_reconcile as sql

    expected = deduplicate(FEED)
    default = reconcile(expected, platform, customer, feed=FEED)
    on_spark = sql.reconcile(
        sql.expected_table(expected),
        sql.table(platform),
        None if customer is None else sql.table(customer),
        feed=spark_engine.session().createDataFrame(stack_feed(FEED).loc[:, ["user_id", "batch_id"]]),
    )
    return on_spark, default


def _assert_same(mine: Reconciliation, reference: Reconciliation) -> None:
    assert (mine.expected_total, mine.platform_total, mine.customer_total, mine.user_count) == (
        reference.expected_total, reference.platform_total, reference.customer_total, reference.user_count
    )
    pd.testing.assert_frame_equal(pandas_table(mine.users), reference.users)
    assert [summary.name for summary in mine.classes] == [summary.name for summary in reference.classes]
    for summary, expected in zip(mine.classes, reference.classes, strict=True):
        assert (summary.users, summary.revenue_gap) == (expected.users, expected.revenue_gap), summary.name
        pd.testing.assert_frame_equal(summary.examples, expected.examples, obj=f"examples of {summary.name}")


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_spark_reconciliation_matches_the_default_engine(spark_engine, platform: str) -> None:
    mine, reference = _both(spark_engine, PLATFORMS[platform]())
    _assert_same(mine, reference)
    if platform != "every user matches":
        assert reference.discrepant_users > 0  # the case exercises something


@pytest.mark.parametrize("customer", list(CUSTOMERS))
def test_spark_reconciliation_with_a_customer_export_matches_the_default_engine(spark_engine, customer: str) -> None:
    mine, reference = _both(spark_engine, _mixed_platform(), CUSTOMERS[customer]())
    _assert_same(mine, reference)



DIAGNOSES: dict[str, tuple[Callable[[], pd.DataFrame], Callable[[], pd.DataFrame] | None]] = {
    "clean table": (PLATFORMS["every user matches"], None),
    "clean table, the export disagrees": (PLATFORMS["every user matches"], CUSTOMERS["customer dropped and drifted"]),
    "clean table, the export has strangers": (PLATFORMS["every user matches"], CUSTOMERS["customer with strangers and repeats"]),
    "file not ingested": (PLATFORMS["file not ingested"], CUSTOMERS["customer matches"]),
    "mixed faults": (PLATFORMS["mixed faults"], None),
}


@pytest.mark.parametrize("case", list(DIAGNOSES))
def test_spark_diagnosis_matches_the_default_engine(spark_engine, case: str) -> None:
    platform, customer = (make() if make is not None else None for make in DIAGNOSES[case])
    deduplicated = deduplicate(FEED)
    mine = spark_engine.diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    assert mine.to_dict() == reference.to_dict()
    _assert_same(mine.reconciliation, reference.reconciliation)
    pd.testing.assert_frame_equal(pandas_table(mine.lineage), reference.lineage)
    assert list(mine.lineage_counts.items()) == list(reference.lineage_counts.items())
    assert (mine.files, mine.finance_total) == (reference.files, reference.finance_total)
    if case.startswith("clean table"):
        assert not mine.discrepancy and len(mine.lineage_counts) > 1
    if case.endswith("disagrees"):
        assert len(pandas_table(mine.lineage)) > 0  # the users only the export disagrees on are traced


@pytest.mark.parametrize(
    ("case", "on_driver"),
    [("clean table", False), ("clean table, the export disagrees", False), ("file not ingested", False), ("mixed faults", True)],
)
def test_rows_read_in_spark_stay_there_unless_the_driver_searches(spark_engine, case: str, on_driver: bool, tmp_path) -> None:
    """The deltas', the tables' and the deduplicated table's rows come to the driver only for the fault search's
    cases Spark does not decide (a file never loaded it does), with the default engine's diagnosis either way; the
    listed keys' rows never do (nor the lineage, when Spark decides)."""
    from checks.engines import get_engine
    from checks.engines.spark_deltas import SparkDelta, SparkTable
    from checks.engines.spark_users import SparkUsers
    from checks.sample import write_feed

    folder = tmp_path / "feed"
    write_feed(FEED, folder)
    reference = get_engine("pandas").check_feed_folder(folder)
    feed = spark_engine.check_feed_folder(folder)
    assert all(isinstance(delta, SparkDelta) and "_frame" not in vars(delta) for delta in feed.deltas)
    tables: dict[str, tuple] = {}
    for name, make in zip(("platform", "customer"), DIAGNOSES[case]):
        path = tmp_path / f"{name}.csv"
        if make is not None:
            make().to_csv(path, index=False)
        tables[name] = (None, None) if make is None else (spark_engine.read_table(path), get_engine("pandas").read_table(path))
    (platform, platform_frame), (customer, customer_frame) = tables["platform"], tables["customer"]
    held = [feed.deduplicated_rows] + [table for table, _ in tables.values() if table is not None]
    assert all(isinstance(table, SparkTable) for table in held)
    mine = spark_engine.diagnose(feed.deltas, platform, customer, 1_000_000, deduplicated=feed.deduplicated_rows)
    expected = diagnose(reference.deltas, platform_frame, customer_frame, 1_000_000, deduplicated=reference.deduplicated)
    assert mine.to_dict() == expected.to_dict()
    # The listed keys stay in Spark either way; the lineage too, unless the driver's search traced it.
    users = mine.reconciliation.users
    assert isinstance(users, SparkUsers) and users._frame is None
    assert isinstance(mine.lineage, SparkTable) != on_driver and getattr(mine.lineage, "_frame", None) is None
    pd.testing.assert_frame_equal(pandas_table(mine.lineage), expected.lineage)
    pd.testing.assert_frame_equal(pandas_table(users), expected.reconciliation.users)
    collected = ["_frame" in vars(delta) for delta in feed.deltas] + [table._frame is not None for table in held]
    assert collected == [on_driver] * (len(FEED) + len(held))
    if on_driver:  # collected as the default engine's frames
        for delta, reference_delta in zip(feed.deltas, reference.deltas, strict=True):
            pd.testing.assert_frame_equal(delta.frame, reference_delta.frame)
        pd.testing.assert_frame_equal(platform.frame, platform_frame)
    moved = pickle.loads(pickle.dumps(feed.deltas[-1]))  # to another process: a plain Delta with the rows
    assert (type(moved), moved.name, moved.number) == (Delta, reference.deltas[-1].name, reference.deltas[-1].number)
    pd.testing.assert_frame_equal(moved.frame, reference.deltas[-1].frame)

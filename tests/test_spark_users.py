"""The listed keys kept in Spark give the default engine's report: ``discrepancies.csv`` written by Spark, the charts'
figures, the customer's agreement and the examples computed there, every file byte for byte (differential tests)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from checks.dedup import deduplicate
from checks.diagnose import diagnose
from checks.report import write_incident_report
from tests import faults
from tests.test_reconcile import FEED
from tests.test_spark_reconcile import CUSTOMERS, PLATFORMS

pytestmark = pytest.mark.slow


def _with_values(values: list[int]) -> Callable[[], pd.DataFrame]:
    """Some users dropped (the platform's columns are floats in pandas) and some amounts set to ``values``."""

    def make() -> pd.DataFrame:
        table = faults.dropped(FEED, 9, seed=4).reset_index(drop=True)
        table.loc[: len(values) - 1, "total_spend"] = values
        return table

    return make


# Each case: the platform, the customer's export, and what it exercises in discrepancies.csv and the report.
CASES: dict[str, tuple[Callable[[], pd.DataFrame], Callable[[], pd.DataFrame] | None]] = {
    "every user matches (a header alone)": (PLATFORMS["every user matches"], None),
    "file not ingested (stale users, the export agrees)": (PLATFORMS["file not ingested"], CUSTOMERS["customer matches"]),
    "file cut short": (PLATFORMS["file cut short"], None),
    "unknown batches (the detail column)": (PLATFORMS["unknown batches"], None),
    "mixed faults (floats where users lack a row; the driver's search)": (
        PLATFORMS["mixed faults"], CUSTOMERS["customer dropped and drifted"],
    ),
    "strangers, the export has strangers and repeats": (PLATFORMS["strangers"], CUSTOMERS["customer with strangers and repeats"]),
    "amounts of ten digits and more among floats": (
        _with_values([10**10, 12_345_678_901_234, -(10**11), 9_999_999_999, 120_000_000_000, 10**15 + 1]), None,
    ),
    "amounts beyond 2**53 among floats (Arrow formats them)": (_with_values([2**53 + 1, 2**55 + 12_345, -(2**54) - 3]), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_report_from_spark_is_the_default_engine_s(spark_engine, case: str, tmp_path: Path) -> None:
    from checks.engines.spark_users import SparkUsers

    platform, customer = (make() if make is not None else None for make in CASES[case])
    deduplicated = deduplicate(FEED)
    mine = spark_engine.diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    written = {
        name: write_incident_report(diagnosis, tmp_path / name) for name, diagnosis in (("spark", mine), ("default", reference))
    }
    assert isinstance(mine.reconciliation.users, SparkUsers) and mine.reconciliation.users._frame is None  # never collected
    names = sorted(path.name for path in written["default"])
    assert sorted(path.name for path in written["spark"]) == names
    assert "discrepancies.csv" in names and "stale-users-by-batch.svg" in names
    for name in names:
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "default" / name).read_bytes(), name
    assert sorted(path.name for path in (tmp_path / "spark").iterdir()) == names  # no part folder left
    table = pd.read_csv(tmp_path / "spark" / "discrepancies.csv")
    assert len(table) == reference.reconciliation.discrepant_users


@pytest.mark.parametrize(
    "case", ["file not ingested (stale users, the export agrees)", "mixed faults (floats where users lack a row; the driver's search)"]
)
def test_the_causes_examples_come_from_spark(spark_engine, case: str) -> None:
    """The examples the report shows (each class's, each cause's) are the default engine's frames, to the dtype."""
    platform, customer = (make() if make is not None else None for make in CASES[case])
    deduplicated = deduplicate(FEED)
    mine = spark_engine.diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    for summary, expected in zip(mine.reconciliation.classes, reference.reconciliation.classes, strict=True):
        pd.testing.assert_frame_equal(summary.examples, expected.examples, obj=summary.name)
    assert mine.root_causes and [cause.evidence for cause in mine.root_causes] == [cause.evidence for cause in reference.root_causes]
    for cause, expected in zip(mine.root_causes, reference.root_causes, strict=True):
        pd.testing.assert_frame_equal(cause.examples, expected.examples, obj=cause.kind)


def test_a_contract_with_rendered_values_keeps_the_users_in_spark_and_writes_the_default_engine_s_files(
    spark_engine, tmp_path: Path
) -> None:
    """Values not held as the files wrote them (decimals, text, timestamps) are rendered in Spark (text through its
    dictionaries): the users that do not match stay there, and the files are the default engine's."""
    from checks.cli.diagnose import load_and_diagnose
    from checks.engines import get_engine
    from tests.test_contract_shapes import CASE, PLATFORM_FAULTS
    from tests.test_engines import _accounts_encoding, _write_accounts

    feed = _write_accounts(CASE.files, tmp_path / "feed")
    PLATFORM_FAULTS["file never loaded"][0].to_csv(tmp_path / "platform.csv", index=False)
    for name in ("pandas", "spark"):
        diagnosis = load_and_diagnose(feed, tmp_path / "platform.csv", engine=get_engine(name), encoding=_accounts_encoding())
        assert isinstance(diagnosis.reconciliation.users, pd.DataFrame) is (name == "pandas") and diagnosis.discrepancy
        write_incident_report(diagnosis, tmp_path / name)
    names = sorted(path.name for path in (tmp_path / "pandas").iterdir())
    assert "discrepancies.csv" in names and sorted(path.name for path in (tmp_path / "spark").iterdir()) == names
    for name in names:
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "pandas" / name).read_bytes(), name


def test_a_table_of_text_keys_cut_short_is_told_in_text_order_in_spark_too(spark_engine, tmp_path: Path) -> None:
    """The keys Spark holds are dictionary codes; where the table stops is said in the keys' text order, as on pandas."""
    from checks.cli.diagnose import load_and_diagnose
    from checks.engines import get_engine
    from tests.test_contract_shapes import CASE
    from tests.test_engines import _accounts_encoding, _write_accounts

    feed = _write_accounts(CASE.files, tmp_path / "feed")
    latest = pd.concat(CASE.files.values(), ignore_index=True).sort_values("exported_at", kind="stable")
    latest = latest.drop_duplicates("account_id", keep="last").sort_values("account_id")
    latest.iloc[:-7].to_csv(tmp_path / "platform.csv", index=False)
    said = {}
    for name in ("pandas", "spark"):
        diagnosis = load_and_diagnose(feed, tmp_path / "platform.csv", engine=get_engine(name), encoding=_accounts_encoding())
        said[name] = [cause.evidence for cause in diagnosis.root_causes]
    assert said["spark"] == said["pandas"]
    assert f"every account after {latest['account_id'].iloc[-8]} in account_id order, and no other" in said["pandas"][0]

"""The failure rows kept in Spark give the default engine's ``failures.csv``, counts and first rows, and never come to
the driver whole (differential tests; ``checks.engines.spark_deltas.SparkFailures``).

Planted here: 20,000 bad cells in one delta of a generated feed (text a CSV must quote, text a spreadsheet would run,
empty cells, non-ASCII), beside faults across the files (spend decreases, versions back in time, a repeated pair);
the small cases add a file only the pandas path reads (no rows; an integer beyond int64 beside a bad cell) and the
second shape (a string key, a timestamp version, a decimal amount).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from checks.encoding import Encoding
from checks.engines import get_engine
from checks.output import failures_to_records
from checks.results import FeedCheck, pandas_failures
from checks.sample import generate_feed, write_feed
from tests.test_engines import FAULTS, _accounts_encoding, _write_accounts, write_generated_feed

pytestmark = pytest.mark.slow

SUMMARY_ROWS = 1000  # the failures ``summary.json`` lists (``checks.runner.RunResult.to_dict``)
# Cells no integer column takes, cycled through the planted ones: quoted in a CSV, run by a spreadsheet, empty, ...
BAD_TEXTS = ("x,y", 'say "hi"', "=1+2", " 7 ", "-", "@a", "", "ä", "+3x", "\t9", "1.5")
BAD_CELLS = 20_000


def _many_bad_cells(folder: Path) -> None:
    """Every row of delta5 (10,000 users, the last file: the faults across the files are in the others) with two bad
    cells: ``BAD_CELLS`` failures in one file."""
    path = folder / "delta5.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for offset, column in enumerate(("total_spend", "loyalty_credits")):
        frame[column] = [BAD_TEXTS[(at + offset) % len(BAD_TEXTS)] for at in range(len(frame))]
    assert 2 * len(frame) == BAD_CELLS
    frame.to_csv(path, index=False)


def _faults(*names: str) -> Callable[[Path], None]:
    def plant(folder: Path) -> None:
        for name in names:
            FAULTS[name](folder)

    return plant


@pytest.fixture
def collected_rows(monkeypatch) -> Iterator[list[int]]:
    """How many rows each Spark action that brings rows to the driver brought (``collect``, ``toArrow``, ...)."""
    from pyspark.sql.classic.dataframe import DataFrame

    sizes: list[int] = []
    for name in ("collect", "toArrow", "toPandas", "toLocalIterator"):
        original = getattr(DataFrame, name)

        def spy(self, *args, _original=original, **kwargs):
            result = _original(self, *args, **kwargs)
            result = list(result) if not hasattr(result, "__len__") else result  # an iterator: counted as it is read
            sizes.append(len(result))
            return result

        monkeypatch.setattr(DataFrame, name, spy)
    yield sizes


def _outputs(feed: FeedCheck, out: Path) -> dict[str, object]:
    """What a run shows and writes of the failures: ``failures.csv``, the counts and first rows of ``summary.json``."""
    feed.write_outputs(out).wait()
    failures = feed.failures
    return {
        "failures.csv": (out / "failures.csv").read_bytes(),
        "files": [validation.summary() for validation in feed.validations],
        "failures": failures_to_records(failures.head(SUMMARY_ROWS)),
        "failure_count": len(failures),
        "passed": feed.passed,
    }


def test_many_failing_rows_stay_in_spark(spark_engine, collected_rows: list[int], tmp_path: Path) -> None:
    """20,000 failing cells and faults across the files: the default engine's outputs, and no action of the Spark run
    brings more rows to the driver than ``summary.json`` shows."""
    from checks.engines.spark_deltas import SparkFailures

    folder = tmp_path / "feed"
    write_feed(generate_feed(10_000, 6, seed=13, update_share=1.0), folder)
    _many_bad_cells(folder)
    _faults("spend decrease", "batch overlap", "repeated pair, not the latest")(folder)
    reference = get_engine("polars").check_feed_folder(folder)
    expected = _outputs(reference, tmp_path / "polars")
    collected_rows.clear()
    feed = spark_engine.check_feed_folder(folder)
    mine = _outputs(feed, tmp_path / "spark")
    assert isinstance(feed.failures, SparkFailures) and isinstance(feed.validations[5].failures, SparkFailures)
    assert max(collected_rows) <= SUMMARY_ROWS < expected["failure_count"], collected_rows
    assert expected["files"][5]["failures"] == BAD_CELLS and len(reference.feed_failures) > 0
    assert mine == expected
    assert sorted(path.name for path in (tmp_path / "spark").iterdir()) == sorted(path.name for path in (tmp_path / "polars").iterdir())


CASES: dict[str, Callable[[Path], None]] = {
    "cell faults and faults across the files": _faults(
        "bad cell", "negative value", "repeated user", "empty cell", "spend decrease", "batch overlap", "repeated pair, not the latest",
    ),
    "files only the pandas path reads beside Spark's": _faults(
        "negative value", "spend decrease", "integer beyond int64 beside a bad cell", "no rows",
    ),
    "nothing fails": _faults(),
}


@pytest.mark.parametrize("case", list(CASES))
def test_failures_are_the_default_engine_s(spark_engine, case: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=150)
    CASES[case](folder)
    reference, feed = (get_engine(name).check_feed_folder(folder) for name in ("pandas", "spark"))
    assert _outputs(feed, tmp_path / "spark") == _outputs(reference, tmp_path / "pandas")
    for mine, expected in zip(feed.validations, reference.validations, strict=True):
        pd.testing.assert_frame_equal(pandas_failures(mine.failures), expected.failures, obj=mine.name)
    pd.testing.assert_frame_equal(pandas_failures(feed.feed_failures), reference.feed_failures)
    pd.testing.assert_frame_equal(pandas_failures(feed.failures), reference.failures)
    assert reference.passed == (case == "nothing fails")


def _accounts_faults() -> dict[str, pd.DataFrame]:
    """The second shape's faults across the files together (worded in Spark SQL: a string key from its dictionary, a
    timestamp, a decimal), beside a file with bad cells (the pandas path's)."""
    from tests.test_contract_shapes import FEED_FAULTS, NAMES

    files = dict(FEED_FAULTS["pair in two files"][0])
    files[NAMES[3]] = FEED_FAULTS["amount falls"][0][NAMES[3]]
    third = files[NAMES[2]].copy()
    # With a fraction of a second: written with it, by Spark SQL as by the driver.
    third.loc[0, "exported_at"] = FEED_FAULTS["version back in time"][0][NAMES[2]].loc[0, "exported_at"].replace("Z", ".25Z")
    files[NAMES[2]] = third
    broken = files[NAMES[4]].copy()
    broken.loc[3, ["plan", "lifetime_value"]] = ["gold", "-1.25"]
    files[NAMES[4]] = broken
    return files


def test_failures_of_another_shape_are_the_default_engine_s(spark_engine, tmp_path: Path) -> None:
    from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE

    folder = _write_accounts(_accounts_faults(), tmp_path / "feed")
    encoding: Encoding = _accounts_encoding()  # shared: strings get the same codes in both runs
    reference, feed = (get_engine(name).check_feed_folder(folder, encoding=encoding) for name in ("polars", "spark"))
    checks = set(reference.feed_failures["check"])
    assert {BATCH_MONOTONIC, PAIR_UNIQUE, "lifetime_value_never_decreases"} <= checks and reference.quarantined
    assert reference.feed_failures["value"].str.contains(".250000Z", regex=False).any()
    assert _outputs(feed, tmp_path / "spark") == _outputs(reference, tmp_path / "polars")
    pd.testing.assert_frame_equal(pandas_failures(feed.feed_failures), reference.feed_failures)

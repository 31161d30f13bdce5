"""The fault search in Spark jobs gives exactly the default engine's diagnosis: differential cases per fault kind,
each also saying whether Spark decided it (the driver's search never called, the per-user table never collected) or
the driver's search ran; above the driver's cap on feed rows a search Spark does not decide collects no feed."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

import checks.diagnose
from checks.dedup import deduplicate
from checks.diagnose import diagnose
from checks.engines.spark_users import SparkUsers
from tests import faults
from tests.test_reconcile import FEED, _mixed_platform

pytestmark = pytest.mark.slow


def _drifted(table: pd.DataFrame) -> pd.DataFrame:
    """A few users' amounts changed besides the planted fault: two causes, so the driver decides."""
    table = table.reset_index(drop=True)
    table.loc[0:3, "total_spend"] += 7
    return table


def _text_and_missing() -> pd.DataFrame:
    """batch_id compared as text over a feed whose delta2 the platform never loaded: a file, then a rule."""
    return faults.string_dedup([delta for delta in FEED if delta.number != 2])


def _residual_platform() -> pd.DataFrame:
    """delta2 never loaded, then users left over that no change reproduces: some dropped, strangers, some twice."""
    table = faults.without_file(FEED, 2).reset_index(drop=True).drop(index=range(0, 10))
    strangers = faults.with_strangers(FEED, 4, seed=1).nlargest(4, "user_id")
    return pd.concat([table, strangers, table.iloc[40:45]], ignore_index=True)


def _filtered(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The table without the users holding ``column``'s most common value: a filter a load applied."""
    return table[table[column] != table[column].mode()[0]]


def _driver_searches(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """A list that grows by one each time the driver's search (``checks.diagnose.diagnose``) runs."""
    on_driver: list[bool] = []

    def spy(*args, **kwargs):
        on_driver.append(True)
        return diagnose(*args, **kwargs)

    monkeypatch.setattr(checks.diagnose, "diagnose", spy)
    return on_driver


# Each case: the platform, the customer's export, and whether the search is decided in Spark (no delta collected).
CASES: dict[str, tuple[Callable[[], pd.DataFrame], Callable[[], pd.DataFrame] | None, bool]] = {
    "none: every user matches": (lambda: faults.expected(FEED), None, True),
    "first file never loaded": (lambda: faults.without_file(FEED, 0), None, True),
    "middle file never loaded": (lambda: faults.without_file(FEED, 2), None, True),
    "last file never loaded, with an export": (lambda: faults.without_file(FEED, 4), lambda: faults.drifted(FEED, 4, seed=8), True),
    "file cut short": (lambda: faults.truncated(FEED, 3, 40), None, True),
    "first file cut short, with an export": (lambda: faults.truncated(FEED, 0, 100), lambda: faults.expected(FEED), True),
    "file cut short and values drifted": (lambda: _drifted(faults.truncated(FEED, 2, 30)), None, False),
    "batch_id compared as text": (lambda: faults.string_dedup(FEED), None, True),
    "last file loaded wins": (lambda: faults.last_file_wins(FEED, [0, 3, 1, 4, 2]), None, True),
    "first file loaded wins (the earliest row kept)": (lambda: faults.last_file_wins(FEED, [4, 3, 2, 1, 0]), None, True),
    "the lowest batch_id kept": (lambda: faults.lowest_version(FEED), None, True),
    "not deduplicated": (lambda: faults.not_deduplicated(FEED), None, True),
    "not deduplicated, with an export": (lambda: faults.not_deduplicated(FEED), lambda: faults.expected(FEED), True),
    "file never loaded and another cut short (two rounds)": (lambda: faults.without_file_and_truncated(FEED, 1, 3, 50), None, True),
    "last file never loaded and the first cut short": (lambda: faults.without_file_and_truncated(FEED, 4, 0, 80), None, True),
    "batch_id as text and a file never loaded": (_text_and_missing, None, True),
    "users dropped": (lambda: faults.dropped(FEED, 9, seed=4), None, True),
    "the table cut short in key order": (lambda: faults.expected(FEED).sort_values("user_id").iloc[:-25], None, True),
    "users of one value filtered out": (lambda: _filtered(faults.expected(FEED), "count_saved_items"), None, True),
    "users the feed never had": (lambda: faults.with_strangers(FEED, 4, seed=1), None, True),
    "users loaded twice": (lambda: faults.with_duplicates(FEED, 6, seed=3), None, True),
    "a file appended instead of merged": (lambda: faults.appended(FEED, 3), None, True),
    "file never loaded, users dropped, strangers and repeats": (_residual_platform, None, True),
    "file never loaded and values drifted": (lambda: _drifted(faults.without_file(FEED, 1)), None, False),
    "several at once": (_mixed_platform, None, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_spark_fault_search_matches_the_default_engine(spark_engine, monkeypatch, case: str) -> None:
    make_platform, make_customer, in_spark = CASES[case]
    platform = make_platform()
    customer = None if make_customer is None else make_customer()
    deduplicated = deduplicate(FEED)
    on_driver = _driver_searches(monkeypatch)
    mine = spark_engine.diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(FEED, platform, customer, 1_000_000, deduplicated=deduplicated)
    assert mine.to_dict() == reference.to_dict()
    for cause, expected in zip(mine.root_causes, reference.root_causes, strict=True):
        pd.testing.assert_frame_equal(cause.examples, expected.examples)
        assert cause.details == expected.details
    assert (not on_driver) == in_spark
    if in_spark:  # the per-user table stays in Spark too
        assert isinstance(mine.reconciliation.users, SparkUsers) and mine.reconciliation.users._frame is None
    if not case.startswith("none"):
        assert reference.root_causes  # the case exercises the search
    if case.startswith("several"):
        assert reference.unexplained_users  # and one leaves users unexplained


def _moved_last_key_loaded_out_of_order() -> tuple[list, pd.DataFrame]:
    feed = faults.shared_key_last(FEED, 4, 3)
    return feed, faults.last_file_wins(feed, [0, 1, 2, 4, 3])


@pytest.mark.parametrize(("make", "kind"), [
    # The search takes the cut of the moved file's last key first, then the load order that explains every user alone.
    (_moved_last_key_loaded_out_of_order, "wrong_dedup_order"),
    # The search takes the cut of the file whose last row a filter dropped; the filter, found among the users left,
    # explains that user too.
    (lambda: faults.filtered_with_a_last_row(FEED, "count_saved_items"), "missing_users"),
], ids=["a load order", "a filter"])
def test_a_cut_another_cause_explains_too_is_dropped_in_spark_too(spark_engine, monkeypatch, make, kind) -> None:
    """Spark keeps only the other cause, as the default engine does, deciding it in Spark."""
    feed, platform = make()
    deduplicated = deduplicate(feed)
    monkeypatch.setattr(checks.diagnose, "diagnose", lambda *args, **kwargs: pytest.fail("the driver's search ran"))
    mine = spark_engine.diagnose(feed, platform, None, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(feed, platform, None, 1_000_000, deduplicated=deduplicated)
    assert mine.to_dict() == reference.to_dict()
    assert [cause.kind for cause in mine.root_causes] == [kind]
    assert mine.root_causes[0].details == reference.root_causes[0].details
    pd.testing.assert_frame_equal(mine.root_causes[0].examples, reference.root_causes[0].examples)
    assert mine.unexplained_users == 0


@pytest.mark.parametrize("case", ["file never loaded and values drifted", "several at once"])
def test_a_search_spark_does_not_decide_collects_no_feed_above_the_cap(spark_engine, monkeypatch, caplog, case: str) -> None:
    """Above ``CHECKS_SPARK_DRIVER_SEARCH_ROWS`` feed rows the driver's search is not run: no feed on the driver, the
    reconciliation as the default engine's, every user that does not match left unexplained, a warning logged."""
    make_platform, _, in_spark = CASES[case]
    assert not in_spark
    platform = make_platform()
    deduplicated = deduplicate(FEED)
    monkeypatch.setenv("CHECKS_SPARK_DRIVER_SEARCH_ROWS", str(sum(len(delta.frame) for delta in FEED) - 1))
    monkeypatch.setattr(checks.diagnose, "diagnose", lambda *args, **kwargs: pytest.fail("the driver's search ran"))
    mine = spark_engine.diagnose(FEED, platform, None, 1_000_000, deduplicated=deduplicated)
    reference = diagnose(FEED, platform, None, 1_000_000, deduplicated=deduplicated)
    assert mine.to_dict()["classes"] == reference.to_dict()["classes"]
    assert not mine.root_causes and mine.unexplained_share == 1.0
    assert mine.unexplained_users == reference.reconciliation.discrepant_users
    assert mine.unexplained_gap == reference.reconciliation.gap  # a matching user has no gap
    assert "CHECKS_SPARK_DRIVER_SEARCH_ROWS" in caplog.text


@pytest.mark.parametrize(("given", "rows"), [(None, 1_000_000), ("250", 250), (" 7 ", 7), ("many", None), ("-1", None), ("", None)])
def test_the_driver_search_cap_is_a_whole_number_or_one_clear_error(
    given: str | None, rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks.engines.spark_reconcile import DRIVER_SEARCH_ROWS, driver_search_rows
    from checks.errors import UsageError

    if given is None:
        monkeypatch.delenv("CHECKS_SPARK_DRIVER_SEARCH_ROWS", raising=False)
    else:
        monkeypatch.setenv("CHECKS_SPARK_DRIVER_SEARCH_ROWS", given)
    if rows is None:
        with pytest.raises(UsageError, match="CHECKS_SPARK_DRIVER_SEARCH_ROWS"):
            driver_search_rows()
    else:
        assert driver_search_rows() == rows
        assert given is not None or rows == DRIVER_SEARCH_ROWS


@pytest.mark.parametrize(
    ("number", "skipped", "named"),
    [
        (2, None, [("quarantined_file_loaded", "delta2.csv")]),
        (0, 3, [("quarantined_file_loaded", "delta0.csv"), ("file_not_ingested", "delta3.csv")]),
    ],
)
def test_a_quarantined_file_loaded_anyway_is_named_as_the_default_engine_names_it(
    spark_engine, monkeypatch, number: int, skipped: int | None, named: list
) -> None:
    """Users the simulations leave over with a quarantined file: the driver's search reads its rows, as by default."""
    passed = [delta for delta in FEED if delta.number != number]
    quarantined = next(delta for delta in FEED if delta.number == number)
    platform = faults.loaded(deduplicate([delta for delta in FEED if delta.number != skipped]))
    deduplicated = deduplicate(passed)
    on_driver = _driver_searches(monkeypatch)
    mine = spark_engine.diagnose(passed, platform, None, 1_000_000, deduplicated=deduplicated, quarantined=lambda: [quarantined])
    reference = diagnose(passed, platform, None, 1_000_000, deduplicated=deduplicated, quarantined=lambda: [quarantined])
    assert mine.to_dict() == reference.to_dict()
    assert sorted((cause.kind, cause.file) for cause in mine.root_causes) == sorted(named)
    for cause, expected in zip(mine.root_causes, reference.root_causes, strict=True):
        pd.testing.assert_frame_equal(cause.examples, expected.examples)
    assert on_driver


@pytest.mark.parametrize(("case", "said"), [
    ("the table cut short in key order", "every user after {} in user_id order, and no other"),
    ("users of one value filtered out", "every user with count_saved_items {}, and no other"),
    ("users dropped", None),
])
def test_what_the_missing_users_share_is_found_in_spark_as_on_the_default_engine(spark_engine, case: str, said) -> None:
    platform = CASES[case][0]()
    mine = spark_engine.diagnose(FEED, platform, None, 1_000_000, deduplicated=deduplicate(FEED))
    (missing,) = [cause for cause in mine.root_causes if cause.kind == "missing_users"]
    dropped = missing.details.get("dropped")
    if said is None:  # users dropped at random share nothing
        assert dropped is None and "no other" not in missing.evidence
        return
    expected = faults.expected(FEED)
    value = expected["user_id"].sort_values().iloc[-26] if dropped.column is None else expected["count_saved_items"].mode()[0]
    assert said.format(value) in missing.evidence

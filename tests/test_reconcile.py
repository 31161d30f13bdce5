"""Reconciliation: every user in exactly one class, class gaps adding up to the total gap."""
from __future__ import annotations

import pandas as pd
import pytest

from checks.dedup import deduplicate
from checks.reconcile import CLASSES, reconcile
from checks.sample import generate_feed
from tests import faults

FEED = generate_feed(600, 5, seed=21)


def _reconciled(platform: pd.DataFrame, customer: pd.DataFrame | None = None, feed=FEED):
    return reconcile(deduplicate(feed), platform, customer, feed=feed)


def _naive_classes(platform: pd.DataFrame, feed=FEED) -> dict[int, str]:
    """The same classification, one user at a time, to compare against the vectorised one."""
    expected = {row.user_id: row for row in deduplicate(feed).itertuples()}
    pairs = {(row.user_id, row.batch_id) for delta in feed for row in delta.frame.itertuples()}
    answer = {}
    for user in set(expected) | set(platform["user_id"]):
        rows = platform[platform["user_id"] == user]
        if len(rows) > 1:
            answer[user] = "duplicated"
        elif len(rows) == 0:
            answer[user] = "missing"
        elif user not in expected:
            answer[user] = "unexpected"
        else:
            mine, want = rows.iloc[0], expected[user]
            values = ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")
            if all(mine[v] == getattr(want, v) for v in values):
                answer[user] = "match"
            elif mine["batch_id"] == want.batch_id:
                answer[user] = "value_drift"
            elif (user, mine["batch_id"]) in pairs and mine["batch_id"] < want.batch_id:
                answer[user] = "stale"
            else:
                answer[user] = "unknown_batch"
    return answer


def _mixed_platform(feed=FEED) -> pd.DataFrame:
    """Missed delta2, then some users dropped, some duplicated, some drifted, strangers and a future batch."""
    table = faults.without_file(feed, 2).reset_index(drop=True)
    table = table.drop(index=range(0, 10))
    table.loc[20:24, "total_spend"] += 3
    table.loc[30:32, "batch_id"] += 100_000
    strangers = faults.with_strangers(feed, 4, seed=1).nlargest(4, "user_id")
    duplicates = table.iloc[40:45]
    return pd.concat([table, strangers, duplicates], ignore_index=True)


def test_every_user_is_classified_like_the_naive_loop():
    platform = _mixed_platform()
    result = _reconciled(platform)
    naive = _naive_classes(platform)
    # The users that do not match are listed; the matches are only counted.
    users = result.users
    assert dict(zip(users["user_id"], users["class"].astype(str))) == {user: name for user, name in naive.items() if name != "match"}
    assert result.summary("match").users == sum(name == "match" for name in naive.values())
    assert result.user_count == len(naive)


@pytest.mark.parametrize("ranges", faults.VALUE_RANGES.values(), ids=faults.VALUE_RANGES.keys())
def test_users_are_classified_like_the_naive_loop_whatever_the_value_ranges(ranges):
    feed = faults.ranged(FEED, ranges)
    platform = _mixed_platform(feed)
    users = _reconciled(platform, feed=feed).users
    naive = _naive_classes(platform, feed)
    assert dict(zip(users["user_id"], users["class"].astype(str))) == {user: name for user, name in naive.items() if name != "match"}
    assert set(naive.values()) == {"match", "stale", "missing", "unexpected", "duplicated", "value_drift", "unknown_batch"}


def test_class_gaps_add_up_to_the_total_gap():
    platform = _mixed_platform()
    result = _reconciled(platform)
    assert sum(summary.revenue_gap for summary in result.classes) == result.gap
    assert result.gap == deduplicate(FEED)["total_spend"].sum() - platform["total_spend"].sum()
    assert sum(summary.users for summary in result.classes) == result.user_count
    assert result.discrepant_users == len(result.users) == result.user_count - result.summary("match").users
    assert [summary.name for summary in result.classes] == list(CLASSES)


@pytest.mark.parametrize(
    ("platform", "expected_class"),
    [
        (faults.without_file(FEED, 3), "stale"),
        (faults.dropped(FEED, 7, seed=2), "missing"),
        (faults.with_strangers(FEED, 5, seed=2), "unexpected"),
        (faults.with_duplicates(FEED, 6, seed=2), "duplicated"),
        (faults.drifted(FEED, 8, seed=2), "value_drift"),
    ],
)
def test_one_fault_lands_in_its_class(platform, expected_class):
    result = _reconciled(platform)
    off = result.users[result.users["class"].ne("match")]
    assert set(off["class"]) == {expected_class}
    assert result.summary(expected_class).revenue_gap == result.gap
    assert len(result.summary(expected_class).examples) == min(5, len(off))


def test_a_batch_the_feed_never_had_is_unknown_and_marked_ahead():
    platform = faults.expected(FEED).reset_index(drop=True)
    platform.loc[0, "batch_id"] += 1_000_000
    users = _reconciled(platform).users
    row = users[users["class"].eq("unknown_batch")]
    assert len(row) == 1 and row["detail"].iloc[0] == "ahead"


def test_customer_export_is_compared_with_the_expected_rows():
    customer = faults.drifted(FEED, 3, seed=4)
    result = _reconciled(faults.expected(FEED), customer)
    # Users that match the platform but not the customer are listed too.
    assert result.discrepant_users == 0
    assert result.users["customer_class"].astype(str).value_counts().to_dict() == {"differs": 3}
    assert result.customer_total == customer["total_spend"].sum()


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("chunk_rows", [7, 64, 1 << 20])
def test_each_user_is_compared_with_its_first_row_of_the_export_whatever_the_chunks(monkeypatch, chunk_rows, packed):
    import checks.lineage
    from checks.lineage import Packing, UserIndex
    from checks.reconcile import ExpectedRows, compare_customer

    monkeypatch.setattr(checks.lineage, "CHUNK_ROWS", chunk_rows)
    if not packed:  # values spanning too much to pack (string codes, timestamps): compared column by column
        monkeypatch.setattr(Packing, "spanning", classmethod(lambda cls, arrays, **options: None))
    expected = deduplicate(FEED)
    # Repeated users (a later row differing), users the feed never had, and the rows shuffled.
    customer = _mixed_platform().sample(frac=1, random_state=3).reset_index(drop=True)
    customer.loc[customer.index[-30:], "user_id"] = customer["user_id"].to_numpy()[:30]
    users = UserIndex(expected["user_id"].to_numpy(), customer["user_id"].to_numpy())
    first, customer_class = compare_customer(customer, ExpectedRows.spread(expected, users), users)
    firsts = customer.reset_index().groupby("user_id")["index"].min()
    assert first.tolist() == [int(firsts.get(user, -1)) for user in users.ids]
    wanted = expected.set_index("user_id")
    for user, row, code in zip(users.ids, first, customer_class):
        if user not in wanted.index:
            assert code == 3
        elif row < 0:
            assert code == 2
        else:
            values = ["total_spend", "count_saved_items", "loyalty_credits", "batch_id"]
            agrees = customer.loc[row, values].tolist() == wanted.loc[user, values].tolist()
            assert code == (0 if agrees else 1)


def test_inputs_are_not_mutated():
    platform = _mixed_platform()
    before = platform.copy()
    _reconciled(platform)
    pd.testing.assert_frame_equal(platform, before)


def test_the_users_frame_can_be_changed_without_changing_the_expected_table():
    # The frame is built from the deduplicated table's own columns (no copy of them at 10 M users).
    expected = deduplicate(FEED)
    before = expected.copy()
    users = reconcile(expected, faults.without_file(FEED, 3), feed=FEED).users
    assert len(users)
    users.loc[0, "expected_total_spend"] += 1
    users.loc[0, "user_id"] += 1
    pd.testing.assert_frame_equal(expected, before)


def test_an_empty_platform_table_and_export_leave_every_user_missing():
    empty = faults.expected(FEED).iloc[:0]
    result = _reconciled(empty, empty)
    assert result.summary("missing").users == result.user_count == len(deduplicate(FEED))
    assert (result.platform_total, result.customer_total) == (0, 0)
    assert result.gap == result.expected_total == result.summary("missing").revenue_gap
    assert (result.users["customer_class"] == "missing").all()

"""Lineage: each platform row traced to the delta file and line holding exactly its values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from checks.lineage import Feed, Packing, PlatformRows, UserIndex, trace_lineage, unmatched_rows
from checks.sample import generate_feed
from tests import faults

FEED = generate_feed(300, 4, seed=5)


def test_every_row_of_a_correct_table_comes_from_the_file_holding_the_latest_row():
    from checks.dedup import deduplicate

    expected = deduplicate(FEED)
    lineage = trace_lineage(faults.expected(FEED), FEED)
    merged = lineage.merge(expected, on="user_id", suffixes=("", "_expected"))
    assert len(merged) == len(expected)
    assert (merged["source_file"] == merged["source_file_expected"]).all()
    assert (merged["source_row"].astype("int64") == merged["source_row_expected"]).all()
    assert unmatched_rows(lineage).empty


def test_changed_rows_match_no_file_and_keep_their_line_numbers():
    platform = faults.drifted(FEED, 4, seed=1)
    lineage = trace_lineage(platform, FEED)
    unmatched = unmatched_rows(lineage)
    assert len(unmatched) == 4
    assert unmatched["source_row"].isna().all() and (unmatched["matches"] == 0).all()
    assert list(lineage["platform_row"]) == list(platform.index)


def test_a_row_repeated_in_two_files_points_at_the_first_and_counts_both():
    first = FEED[0]
    row = first.frame.iloc[[0]]
    repeated = [*FEED[:-1], type(first)(FEED[-1].name, FEED[-1].number, pd.concat([FEED[-1].frame, row]))]
    lineage = trace_lineage(row, repeated)
    assert lineage["source_file"].iloc[0] == first.name and lineage["matches"].iloc[0] == 2


@pytest.mark.parametrize(
    "indexed, asked",
    [
        ([5, 7, 9], [9, 4, 7, 10, 5, -3]),  # dense ids: a lookup table
        ([3, 10**15, 2], [10**15, 4, 2, 10**16, 1]),  # sparse ids: binary search
        ([], [1, 2]),
    ],
)
def test_find_gives_each_id_its_position_and_minus_one_when_absent(indexed, asked):
    users = UserIndex(np.array(indexed, dtype="int64"))
    found = users.find(np.array(asked, dtype="int64"))
    ids = list(users.ids)
    assert list(found) == [ids.index(user) if user in ids else -1 for user in asked]


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
@pytest.mark.parametrize(
    "indexed, asked",
    [
        ([5, 7, 9], [9, 4, 7, 10, 5, -(2**31), 2**31 - 1]),  # contiguous or dense ids, asked far outside
        ([5, 6, 7], [7, 5, 8, 4, 2**31 - 1, -(2**31)]),
        ([3, 2**30 - 1, 2], [2**30 - 1, 4, 2, -(2**30), 1]),  # sparse ids: binary search
    ],
)
def test_int32_ids_are_found_like_int64_ones(index_dtype, indexed, asked):
    # The engines hold ids as int32 when they fit: no widening copy, and an id far outside the index
    # must not wrap around into it.
    users = UserIndex(np.array(indexed, dtype=index_dtype))
    ids = [int(user) for user in users.ids]
    expected = [ids.index(user) if user in ids else -1 for user in asked]
    assert list(users.find(np.array(asked, dtype="int32"))) == expected == list(users.find(np.array(asked, dtype="int64")))
    present = [user for user in asked if user in ids]
    assert list(users.locate(np.array(present, dtype="int32"))) == [ids.index(user) for user in present]


def _resending(feed, rows: int) -> list:
    """Each delta after the first also re-sends, unchanged, its predecessor's first ``rows`` rows (rows repeat across
    files, and a user may repeat within a file)."""
    resent = [feed[0]]
    for previous, delta in zip(feed, feed[1:]):
        resent.append(type(delta)(delta.name, delta.number, pd.concat([delta.frame, previous.frame.iloc[:rows]], ignore_index=True)))
    return resent


def _first_equal_rows(platform: pd.DataFrame, feed) -> pd.DataFrame:
    """The naive lineage: per platform row, the first exactly equal feed row in feed order and how many there are."""
    names = list(faults.COLUMNS)
    stacked = pd.concat([delta.frame.loc[:, names].assign(file=delta.name, line=delta.frame.index) for delta in feed])
    equal = stacked.groupby(names, sort=False).agg(file=("file", "first"), line=("line", "first"), matches=("file", "size"))
    return platform.reset_index(drop=True).merge(equal.reset_index(), on=names, how="left")


def _names(files: pd.Series) -> list:
    return [None if pd.isna(name) else name for name in files]


def _assert_naive_lineage(platform: pd.DataFrame, feed) -> None:
    lineage = trace_lineage(platform, feed)
    naive = _first_equal_rows(platform, feed)
    assert _names(lineage["source_file"]) == _names(naive["file"])
    assert lineage["source_row"].astype("float64").fillna(-1).tolist() == naive["line"].fillna(-1).tolist()
    assert lineage["matches"].tolist() == naive["matches"].fillna(0).astype("int64").tolist()


@pytest.mark.parametrize("files", [1, 2, 3, 5])
@pytest.mark.parametrize(
    "platform_of",
    [faults.expected, faults.not_deduplicated, lambda feed: faults.without_file(feed, 0), lambda feed: faults.drifted(feed, 9, seed=2)],
    ids=["expected", "not deduplicated", "first file missing", "drifted"],
)
def test_lineage_is_the_first_equal_feed_row_in_feed_order_and_counts_every_equal_row(files, platform_of):
    original = generate_feed(400, files, seed=files)
    platform = platform_of(original)
    feed = _resending(original, 60)
    _assert_naive_lineage(platform, feed)


@pytest.mark.parametrize("ranges", faults.VALUE_RANGES.values(), ids=faults.VALUE_RANGES.keys())
def test_lineage_is_the_naive_one_whatever_the_value_ranges(ranges):
    original = faults.ranged(generate_feed(400, 3, seed=8), ranges)
    platform = faults.drifted(original, 9, seed=2)
    feed = _resending(original, 60)
    _assert_naive_lineage(platform, feed)


@pytest.mark.parametrize(
    "name, packed",
    [
        ("version packed beside the values", ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")),
        ("negative values", ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")),
        ("versions too wide for the values", ("total_spend", "count_saved_items", "loyalty_credits")),
        ("values too wide to pack", None),
    ],
)
def test_the_packing_holds_what_the_ranges_allow(name, packed):
    feed = faults.ranged(FEED, faults.VALUE_RANGES[name])
    platform = faults.expected(feed)
    users = UserIndex(*[delta.frame["user_id"].to_numpy() for delta in feed])
    packing = Packing.of(Feed.stack(feed, users), PlatformRows.build(platform, users))
    assert (None if packing is None else packing.names) == packed


def _pairs(rng, versions: tuple[int, int], values: tuple[int, int], size: int = 2000) -> dict[str, np.ndarray]:
    """Random rows drawn from few values, so that rows often tie on the version, on the values, or on both."""
    drawn = {"version": rng.integers(*versions, size=size)}
    drawn |= {column: rng.integers(*values, size=size) for column in ("spend", "items")}
    return drawn


@pytest.mark.parametrize(
    "versions, values",
    [
        ((0, 4), (0, 3)),  # few of each: ties everywhere
        ((-(2**20), -(2**20) + 5), (-7, -4)),  # negative versions and values
        ((10**9, 10**9 + 6), (0, 2**20)),  # values filling the bits below the version
        ((0, 2), (0, 1)),  # a single value: no bits below the version
    ],
)
def test_packed_keys_tell_equal_rows_equal_versions_and_the_older_version(versions, values):
    rng = np.random.default_rng(3)
    first, second = _pairs(rng, versions, values), _pairs(rng, versions, values)
    packing = Packing.spanning({column: [first[column], second[column]] for column in ("spend", "items", "version")}, version="version")
    assert packing is not None and packing.covers(first) and packing.covers(second)
    mine, theirs = packing.pack(first), packing.pack(second)
    assert (mine >= 0).all() and (theirs >= 0).all()
    equal = (first["version"] == second["version"]) & (first["spend"] == second["spend"]) & (first["items"] == second["items"])
    assert ((mine == theirs) == equal).all()
    assert (packing.same_version(mine ^ theirs) == (first["version"] == second["version"])).all()
    assert not packing.same_version(mine ^ np.int64(-1)).any()  # the sentinel of a user without one row
    assert ((packing.version_order(mine) < packing.version_order(theirs)) == (first["version"] < second["version"])).all()


@pytest.mark.parametrize(
    "versions, values",
    [
        ((0, 2**40), (0, 2**25)),  # the version does not fit beside the values: the values alone
        ((0, 2), (-(2**62), 2**62)),  # nor do the values alone
    ],
)
def test_a_version_that_does_not_fit_beside_the_values_is_left_out(versions, values):
    rng = np.random.default_rng(4)
    rows = _pairs(rng, versions, values)
    arrays = {column: [rows[column]] for column in ("spend", "items", "version")}
    assert Packing.spanning(arrays, version="version") is None


@pytest.mark.parametrize(
    "platform_of",
    [
        faults.expected,
        lambda feed: faults.without_file(feed, 1),
        lambda feed: faults.drifted(feed, 9, seed=2),
        faults.not_deduplicated,
        lambda feed: faults.with_duplicates(feed, 7, seed=3),
        lambda feed: faults.dropped(feed, 11, seed=4),
    ],
    ids=["expected", "a file missing", "drifted", "not deduplicated", "duplicates", "dropped"],
)
def test_settled_users_rows_left_out_give_the_same_matches(platform_of):
    from checks.dedup import deduplicate
    from checks.lineage import Settled, match_rows
    from checks.reconcile import ExpectedRows, compare_rows

    # The dedup refuses two rows of a user's latest version: no resent rows here.
    feed = generate_feed(400, 4, seed=9)
    platform = platform_of(feed)
    users = UserIndex(*[delta.frame["user_id"].to_numpy() for delta in feed], platform["user_id"].to_numpy())
    rows, platform_rows = Feed.stack(feed, users), PlatformRows.build(platform, users)
    expected = ExpectedRows.spread(deduplicate(feed), users)
    packing = Packing.of(rows, platform_rows)
    file = expected.file_codes(rows.names)
    lines = expected.values["source_row"]
    position = np.array([feed[code].frame.index.get_loc(line) if code >= 0 else -1 for code, line in zip(file, lines)])
    settled = compare_rows(expected, platform_rows, packing).same & expected.present & (platform_rows.count == 1)
    assert 0 < settled.sum() or platform_of is faults.not_deduplicated

    whole = match_rows(rows, platform_rows)
    left_out = match_rows(rows.only(~settled), platform_rows, settled=Settled(settled, file, position, packing))
    for name in ("user_file", "user_position", "user_count", "known_batch"):
        assert getattr(left_out, name).tolist() == getattr(whole, name).tolist(), name
    assert (left_out.repeated is None) == (whole.repeated is None)
    if whole.repeated is not None:
        assert [array.tolist() for array in left_out.repeated] == [array.tolist() for array in whole.repeated]


def test_a_delta_proved_to_hold_each_user_once_is_one_part_as_found_by_the_check():
    from dataclasses import replace

    users = UserIndex(*[delta.frame["user_id"].to_numpy() for delta in FEED])
    checked = Feed.stack(FEED, users)
    proved = Feed.stack([replace(delta, unique_keys=True) for delta in FEED], users)
    assert [(part.file, part.user.tolist(), part.position) for part in proved.parts] == [
        (part.file, part.user.tolist(), part.position) for part in checked.parts
    ]

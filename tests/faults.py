"""Faulty platform tables built from a generated feed, one function per fault the diagnosis must name.

Each function takes the feed (``checks.sample.generate_feed``) and returns what a platform with that
fault would have loaded, as a table with the five columns in shuffled order (exports have no order).
The tests derive the expected answer (users, dollars) from the feed and the planted fault, never by hand.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.sample import COLUMNS
from checks.model import Delta, stack_feed


def loaded(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A table as an export: five int64 columns, rows shuffled, index = file line number."""
    table = frame.loc[:, list(COLUMNS)].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    table.index = pd.RangeIndex(2, len(table) + 2, name="row")
    return table.astype("int64")


def expected(feed: Sequence[Delta]) -> pd.DataFrame:
    return loaded(deduplicate(feed))


def accumulated(feed: Sequence[Delta], column: str) -> pd.DataFrame:
    """The platform added each file's ``column`` to the table's, as increments: each user's latest row, its
    ``column`` the sum over every row of theirs."""
    rows = pd.concat([delta.frame for delta in feed], ignore_index=True)
    table = deduplicate(feed).set_index("user_id")
    table[column] = rows.groupby("user_id")[column].sum()
    return loaded(table.reset_index())


def not_updated(feed: Sequence[Delta], number: int, column: str) -> pd.DataFrame:
    """Delta ``number`` was loaded but for ``column``: each user it updated keeps that column's value of the row
    before (the largest version below the file's)."""
    rows = pd.concat([delta.frame.assign(_file=delta.number) for delta in feed], ignore_index=True)
    rows = rows.sort_values(["user_id", "batch_id"], kind="stable")
    rows["_before"] = rows.groupby("user_id")[column].shift(1)
    latest = rows.groupby("user_id").tail(1)
    kept = (latest["_file"] == number) & latest["_before"].notna()
    latest.loc[kept, column] = latest.loc[kept, "_before"].astype("int64")
    return loaded(latest)


def without_file(feed: Sequence[Delta], number: int) -> pd.DataFrame:
    """The platform never ingested delta ``number``."""
    return loaded(deduplicate([delta for delta in feed if delta.number != number]))


def truncated(feed: Sequence[Delta], number: int, rows: int) -> pd.DataFrame:
    """The platform read only the first ``rows`` rows of delta ``number``."""
    cut = [
        Delta(delta.name, delta.number, delta.frame.iloc[:rows]) if delta.number == number else delta
        for delta in feed
    ]
    return loaded(deduplicate(cut))


def without_file_and_truncated(feed: Sequence[Delta], missing: int, number: int, rows: int) -> pd.DataFrame:
    """The platform never ingested delta ``missing`` and read only the first ``rows`` rows of delta ``number``."""
    cut = [
        Delta(delta.name, delta.number, delta.frame.iloc[:rows]) if delta.number == number else delta
        for delta in feed
        if delta.number != missing
    ]
    return loaded(deduplicate(cut))


def lowest_version(feed: Sequence[Delta]) -> pd.DataFrame:
    """The platform kept, per user, the row with the lowest batch_id (a dedup sorted the wrong way)."""
    stacked = stack_feed(feed)
    return loaded(stacked.sort_values(["user_id", "batch_id"], kind="stable").drop_duplicates("user_id", keep="first"))


def string_dedup(feed: Sequence[Delta]) -> pd.DataFrame:
    """The platform kept, per user, the row whose batch_id is largest as text."""
    stacked = stack_feed(feed).assign(batch_text=lambda frame: frame["batch_id"].astype(str))
    latest = stacked.sort_values(["user_id", "batch_text"], kind="stable").drop_duplicates("user_id", keep="last")
    return loaded(latest)


def last_file_wins(feed: Sequence[Delta], order: Sequence[int]) -> pd.DataFrame:
    """The platform loaded files in ``order`` (delta numbers) and each file overwrote the users it holds."""
    by_number = {delta.number: delta for delta in feed}
    stacked = stack_feed([by_number[number] for number in order])
    return loaded(stacked.drop_duplicates("user_id", keep="last"))


def appended(feed: Sequence[Delta], number: int) -> pd.DataFrame:
    """The platform merged every file but delta ``number``, whose rows it then appended instead of merging them."""
    merged = deduplicate([delta for delta in feed if delta.number != number]).loc[:, list(COLUMNS)]
    added = next(delta for delta in feed if delta.number == number).frame.loc[:, list(COLUMNS)]
    return loaded(pd.concat([merged, added]))


def with_new_users(feed: Sequence[Delta], first: int, again: int, users: int) -> list[Delta]:
    """The feed with ``users`` users the base never held: new in delta ``first`` (copies of its first rows under new
    ids), then updated in delta ``again`` (at its first row's version, with other figures)."""
    by_number = {delta.number: delta for delta in feed}
    start = 1 + max(int(delta.frame["user_id"].max()) for delta in feed)
    new = by_number[first].frame.iloc[:users].assign(user_id=np.arange(start, start + users))
    update = new.assign(batch_id=by_number[again].frame["batch_id"].iloc[0], total_spend=new["total_spend"] + 1)
    added = {first: new, again: update}
    return [
        Delta(delta.name, delta.number, pd.concat([delta.frame, added[delta.number]], ignore_index=True))
        if delta.number in added else delta
        for delta in feed
    ]


def shared_key_last(feed: Sequence[Delta], number: int, other: int) -> list[Delta]:
    """The feed itself, with the first row of delta ``number`` whose user delta ``other`` also holds moved to the end
    of delta ``number`` (loaded before ``other``, that file's last key is then one ``other`` overwrites)."""
    delta = next(delta for delta in feed if delta.number == number)
    holders = set(next(delta for delta in feed if delta.number == other).frame["user_id"])
    shared = int(np.flatnonzero(delta.frame["user_id"].isin(holders).to_numpy())[0])
    order = [row for row in range(len(delta.frame)) if row != shared] + [shared]
    moved = Delta(delta.name, delta.number, delta.frame.iloc[order].reset_index(drop=True))
    return [moved if each.number == number else each for each in feed]


def filtered_with_a_last_row(feed: Sequence[Delta], column: str) -> tuple[list[Delta], pd.DataFrame]:
    """A feed whose first file ends with the row of a user no other file holds, and the platform without every user
    holding that row's ``column`` value (a filter): that user's loss looks like the file's last line lost too."""
    base = next(delta for delta in feed if delta.number == 0)
    later = set(pd.concat([delta.frame["user_id"] for delta in feed if delta.number != 0]))
    counts = deduplicate(feed)[column].value_counts()
    alone = base.frame["user_id"].isin(later).to_numpy() == False  # noqa: E712  (a NumPy mask)
    shared_value = base.frame[column].map(counts).to_numpy() >= 3  # enough holders to name a filter
    moved_row = int(np.flatnonzero(alone & shared_value)[0])
    order = [row for row in range(len(base.frame)) if row != moved_row] + [moved_row]
    moved = Delta(base.name, base.number, base.frame.iloc[order].reset_index(drop=True))
    feed = [moved if delta.number == 0 else delta for delta in feed]
    table = expected(feed)
    return feed, table[table[column] != base.frame[column].iloc[moved_row]]


def not_deduplicated(feed: Sequence[Delta]) -> pd.DataFrame:
    """The platform appended every row of every file."""
    return loaded(stack_feed(feed))


def with_duplicates(feed: Sequence[Delta], users: int, seed: int) -> pd.DataFrame:
    """The right table plus a second, older row for ``users`` users that have one."""
    stacked = stack_feed(feed)
    latest = deduplicate(feed)
    older = stacked[stacked["batch_id"].lt(stacked["user_id"].map(latest.set_index("user_id")["batch_id"]))]
    older = older.drop_duplicates("user_id").sample(n=users, random_state=seed)
    return loaded(pd.concat([latest, older]))


def dropped(feed: Sequence[Delta], users: int, seed: int) -> pd.DataFrame:
    """The right table without ``users`` random users."""
    latest = deduplicate(feed)
    return loaded(latest.drop(latest.sample(n=users, random_state=seed).index))


def with_strangers(feed: Sequence[Delta], users: int, seed: int) -> pd.DataFrame:
    """The right table plus ``users`` users the feed never had."""
    latest = deduplicate(feed)
    rng = np.random.default_rng(seed)
    first = int(latest["user_id"].max()) + 1
    strangers = pd.DataFrame(
        {
            "user_id": np.arange(first, first + users),
            "total_spend": rng.integers(1, 5_000, users),
            "count_saved_items": rng.integers(0, 50, users),
            "loyalty_credits": rng.integers(0, 800, users),
            "batch_id": rng.integers(0, 9_000, users),
        }
    )
    return loaded(pd.concat([latest, strangers]))


def drifted(feed: Sequence[Delta], users: int, seed: int, column: str = "total_spend") -> pd.DataFrame:
    """The right table with ``column`` changed for ``users`` users (batch_id untouched)."""
    latest = deduplicate(feed).loc[:, list(COLUMNS)].copy()
    rng = np.random.default_rng(seed)
    chosen = latest.sample(n=users, random_state=seed).index
    latest.loc[chosen, column] = latest.loc[chosen, column] + rng.integers(1, 100, users)
    return loaded(latest)


# --- values a load changed (``value_drift`` mechanisms): each a change to one delta's rows as the load read them ---


def loaded_with(feed: Sequence[Delta], number: int, change, without: int | None = None) -> pd.DataFrame:
    """The platform loaded delta ``number`` through ``change`` (a frame to a frame), and never ingested delta
    ``without`` (None: every delta was ingested)."""
    changed = [
        Delta(delta.name, delta.number, change(delta.frame.copy())) if delta.number == number else delta
        for delta in feed
        if delta.number != without
    ]
    return loaded(deduplicate(changed))


def swapped(first: str, second: str):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[[first, second]] = frame[[second, first]].to_numpy()
        return frame

    return change


def scaled(column: str, factor: float):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = (frame[column] * factor).round().astype(frame[column].dtype)
        return frame

    return change


def rounded(column: str, step: int):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = (frame[column] / step).round().astype("int64") * step
        return frame

    return change


def replaced(column: str, value: int):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = value
        return frame

    return change


def shifted(offset: int, key: str = "user_id"):
    """Each row given the values of the row ``offset`` rows further down the file (up, when negative); rows
    with no such row keep their own."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        values = [column for column in frame.columns if column != key]
        held = frame[values].to_numpy()
        moved = held.copy()
        if offset > 0:
            moved[:-offset] = held[offset:]
        else:
            moved[-offset:] = held[:offset]
        frame[values] = moved
        return frame

    return change


def keys_shifted(feed: Sequence[Delta], offset: int) -> pd.DataFrame:
    """The right rows, sorted by key, with each key given the values ``offset`` keys further on."""
    latest = deduplicate(feed).loc[:, list(COLUMNS)].sort_values("user_id").reset_index(drop=True)
    return loaded(shifted(offset)(latest))


# Value ranges (column: factor, offset) that take each way of comparing a row with another: the version packed
# beside the values (with negative values too), the values packed alone (versions too wide to sit beside them),
# column by column (values too wide to pack together). ``checks.lineage.Packing`` says which applies.
VALUE_RANGES = {
    "version packed beside the values": {},
    "negative values": {"total_spend": (1, -(10**6)), "loyalty_credits": (1, -(10**9))},
    "versions too wide for the values": {"batch_id": (2**40, 0)},
    "values too wide to pack": {"loyalty_credits": (2**48, -(2**56))},
}


def ranged(feed: Sequence[Delta], ranges: dict[str, tuple[int, int]]) -> list[Delta]:
    """The feed with some columns' values times a factor plus an offset (their order and ties kept)."""

    def changed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{column: frame[column] * factor + offset for column, (factor, offset) in ranges.items()})

    return [Delta(delta.name, delta.number, changed(delta.frame)) for delta in feed]

"""Lineage of the platform's table: which delta file and line each loaded row came from, by exact match.

Also owns ``FeedRows``, the feed as flat arrays over one dense user index, which reconciliation and
diagnosis share so that a 10 M-user feed is stacked, hashed and indexed once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from checks.dedup import SOURCE_FILE, SOURCE_ROW
from checks.feed import COLUMNS
from checks.validate import Delta

PLATFORM_ROW = "platform_row"
MATCHES = "matches"


class UserIndex:
    """Sorted distinct user ids and a linear-time lookup from a user id to its position among them."""

    def __init__(self, *user_arrays: np.ndarray) -> None:
        arrays = [np.asarray(users, dtype="int64") for users in user_arrays if len(users)]
        if not arrays:
            self.ids = np.array([], dtype="int64")
            self._table = None
            return
        low = min(int(users.min()) for users in arrays)
        high = max(int(users.max()) for users in arrays)
        total = sum(len(users) for users in arrays)
        if high - low <= 4 * total + 1_000_000:
            # Dense enough ids: a lookup table instead of sorting and binary search.
            present = np.zeros(high - low + 1, dtype=bool)
            for users in arrays:
                present[users - low] = True
            self.ids = np.flatnonzero(present).astype("int64") + low
            self._table = np.full(high - low + 1, -1, dtype="int64")
            self._table[self.ids - low] = np.arange(len(self.ids))
            self._low = low
        else:
            self.ids = np.unique(np.concatenate(arrays))
            self._table = None

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, users: np.ndarray) -> np.ndarray:
        """Positions of ``users`` (all present in the index)."""
        users = np.asarray(users, dtype="int64")
        if self._table is not None:
            return self._table[users - self._low]
        return np.searchsorted(self.ids, users)

    def find(self, users: np.ndarray) -> np.ndarray:
        """Positions of ``users``, -1 for those not in the index."""
        users = np.asarray(users, dtype="int64")
        if self._table is not None:
            inside = (users >= self._low) & (users < self._low + len(self._table))
            return np.where(inside, self._table[np.where(inside, users - self._low, 0)], -1)
        at = np.minimum(np.searchsorted(self.ids, users), max(len(self.ids) - 1, 0))
        if not len(self.ids):
            return np.full(len(users), -1, dtype="int64")
        return np.where(self.ids[at] == users, at, -1)


@dataclass(frozen=True)
class FeedRows:
    """All rows of the feed in feed order as arrays: the row ``g`` is line ``position[g]`` (0-based) of file ``file[g]``.

    ``user`` is each row's position (not its id) in the user index that ``stack`` was given.
    """

    deltas: tuple[Delta, ...]
    names: tuple[str, ...]
    user: np.ndarray
    batch_id: np.ndarray
    file: np.ndarray
    position: np.ndarray
    offsets: np.ndarray  # first row of each file, and the total at the end
    users: int  # size of the user index
    one_row_per_user_and_file: bool  # always so for validated deltas; shortcuts rely on it

    @classmethod
    def stack(cls, deltas: Sequence[Delta], users: UserIndex) -> FeedRows:
        deltas = tuple(deltas)
        sizes = np.array([len(delta.frame) for delta in deltas], dtype="int64")
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype("int64")
        user = _concat([users.locate(delta.frame["user_id"].to_numpy(dtype="int64")) for delta in deltas])
        unique = all(
            np.bincount(user[start:stop]).max(initial=0) <= 1 for start, stop in zip(offsets[:-1], offsets[1:])
        )
        return cls(
            deltas=deltas,
            names=tuple(delta.name for delta in deltas),
            user=user,
            batch_id=_concat([delta.frame["batch_id"].to_numpy(dtype="int64") for delta in deltas]),
            file=np.repeat(np.arange(len(deltas), dtype="int32"), sizes),
            position=_concat([np.arange(size, dtype="int32") for size in sizes], dtype="int32"),
            offsets=offsets,
            users=len(users),
            one_row_per_user_and_file=unique,
        )

    def __len__(self) -> int:
        return len(self.user)

    def column(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Values of one column at the given feed rows."""
        if not len(rows):
            return np.array([], dtype="int64")
        values = [(delta.frame.index if name == SOURCE_ROW else delta.frame[name]).to_numpy(dtype="int64") for delta in self.deltas]
        return np.concatenate(values)[rows]

    def file_names(self, rows: np.ndarray) -> pd.Series:
        """The file name of each row as text, missing where ``rows`` is -1."""
        return text_column(np.where(rows >= 0, self.file[np.maximum(rows, 0)], -1), self.names)

    @cached_property
    def hash(self) -> np.ndarray:
        return _concat([row_keys(delta.frame) for delta in self.deltas], dtype="uint64")

    def by_user(self) -> np.ndarray:
        """The rows ordered by user, then feed order: per-user work then reads memory in sequence."""
        if not self.one_row_per_user_and_file:
            return np.argsort(self.user, kind="stable")
        # A counting sort: each file adds at most one row per user, so the slots never collide.
        counts = np.bincount(self.user, minlength=self.users)
        slot = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype("int64")
        small = "int32" if len(self.user) < 2**31 else "int64"
        order = np.empty(len(self.user), dtype=small)
        for start, stop in zip(self.offsets[:-1], self.offsets[1:]):
            users = self.user[start:stop]
            order[slot[users]] = np.arange(start, stop, dtype=small)
            slot[users] += 1
        return order


def trace_lineage(platform: pd.DataFrame, feed: Sequence[Delta]) -> pd.DataFrame:
    """One row per platform row: its line, its values, the first file/line in feed order holding exactly
    those five values (``source_file`` is None when no file does), and how many feed rows match."""
    feed = tuple(feed)
    users = UserIndex(*[delta.frame["user_id"].to_numpy() for delta in feed], platform["user_id"].to_numpy())
    rows = FeedRows.stack(feed, users)
    return lineage_of(platform, rows, users, *platform_sources(platform, rows, users))


def lineage_of(
    platform: pd.DataFrame, rows: FeedRows, users: UserIndex, source: np.ndarray, matches: np.ndarray
) -> pd.DataFrame:
    """The lineage frame from each platform row's source feed row (-1 for none) and match count."""
    traced = platform.loc[:, list(COLUMNS)].reset_index(drop=True)
    traced.insert(0, PLATFORM_ROW, platform.index.to_numpy())
    exact = source >= 0
    traced[SOURCE_FILE] = rows.file_names(source)
    traced[SOURCE_ROW] = pd.array(np.where(exact, rows.column(SOURCE_ROW, np.maximum(source, 0)), 0), dtype="Int64")
    traced.loc[~exact, SOURCE_ROW] = pd.NA
    traced[MATCHES] = matches
    return traced


def platform_sources(
    platform: pd.DataFrame, rows: FeedRows, users: UserIndex, platform_hash: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each platform row, the first feed row (in feed order) equal to it or -1, and how many feed rows are."""
    platform_hash = row_keys(platform) if platform_hash is None else platform_hash
    if rows.one_row_per_user_and_file:
        position, count = _first_equal_row_per_file(platform, platform_hash, rows, users)
    else:
        position = first_feed_row(rows.hash, platform_hash)
        count = pd.Series(rows.hash).value_counts().reindex(platform_hash).fillna(0).to_numpy().astype("int64")
    source = np.maximum(position, 0)
    exact = position >= 0
    for column in COLUMNS:
        exact &= rows.column(column, source) == platform[column].to_numpy(dtype="int64")
    return np.where(exact, position, -1), np.where(exact, count, 0).astype("int64")


def _first_equal_row_per_file(
    platform: pd.DataFrame, platform_hash: np.ndarray, rows: FeedRows, users: UserIndex
) -> tuple[np.ndarray, np.ndarray]:
    # A row's key includes its user, so a platform row can only equal its user's row in each file.
    platform_user = users.locate(platform["user_id"].to_numpy(dtype="int64"))
    position = np.full(len(platform), -1, dtype="int64")
    count = np.zeros(len(platform), dtype="int64")
    row_of_user = np.full(len(users), -1, dtype="int64")
    for number in range(len(rows.names)):
        start, stop = rows.offsets[number], rows.offsets[number + 1]
        file_users = rows.user[start:stop]
        row_of_user[file_users] = np.arange(start, stop)
        candidate = row_of_user[platform_user]
        equal = (candidate >= 0) & (rows.hash[np.maximum(candidate, 0)] == platform_hash)
        position = np.where(equal & (position < 0), candidate, position)
        count += equal
        row_of_user[file_users] = -1
    return position, count


def first_feed_row(feed_keys: np.ndarray, platform_keys: np.ndarray) -> np.ndarray:
    """For each platform key, the position of the first feed row with that key, or -1."""
    unique = ~pd.Index(feed_keys).duplicated(keep="first")
    index = pd.Index(feed_keys[unique])
    found = index.get_indexer(platform_keys)
    return np.where(found >= 0, np.flatnonzero(unique)[np.maximum(found, 0)], -1)


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's five values: equal rows have equal keys in any table."""
    import polars as pl

    # Polars hashes on all cores without building a frame of objects; seeds fixed, so keys are stable.
    values = pl.DataFrame({column: frame[column].to_numpy(dtype="int64") for column in COLUMNS})
    return values.hash_rows(seed=0).to_numpy()


def unmatched_rows(lineage: pd.DataFrame) -> pd.DataFrame:
    """The platform rows that no delta file holds."""
    return lineage[lineage[SOURCE_FILE].isna()]


def _concat(arrays: list[np.ndarray], dtype: str = "int64") -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.array([], dtype=dtype)


def text_column(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
    """``names[code]`` per row (missing where the code is -1) as pandas' text dtype, built by Arrow, not from objects."""
    import pyarrow as pa

    codes = np.asarray(codes, dtype="int32")
    indices = pa.array(codes, mask=codes < 0)
    text = pa.DictionaryArray.from_arrays(indices, pa.array(list(names), type=pa.large_string()))
    return pd.Series(pd.array(text.cast(pa.large_string()), dtype=pd.StringDtype("pyarrow", na_value=np.nan)))

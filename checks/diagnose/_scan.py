"""Simulating a table from the feed: a model of how the platform read and deduplicated it, and the scan that
builds it (per user, the part and file position of the row kept), with the expected rows it starts from."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from checks.encoding import NULL
from checks.lineage import Feed, Part, code_dtype, position_dtype, row_chunks
from checks.model import SOURCE_ROW
from checks.reconcile import ExpectedRows, compared


@dataclass(frozen=True)
class Model:
    """How the platform built its table: how many leading rows of each file it read, how it picked one per user."""

    cuts: tuple[int, ...]  # per file: rows at positions below the cut were read
    rule: tuple  # ("numeric",) | ("string",) | ("order", file positions, lowest priority first) | ("none",)


@dataclass(frozen=True)
class Table:
    """A simulated table, per user: the part and file position of the row picked (-1 if none); without
    dedup (rule "none") how many rows and the sum of their hashes instead."""

    part: np.ndarray | None
    position: np.ndarray | None
    count: np.ndarray
    model: Model
    signature: np.ndarray | None = None
    tied: bool = False
    # Derived once per table: users by the part of their pick, and runner-up rows found so far.
    cache: dict = field(default_factory=dict, repr=False, compare=False)


def row_dtype(feed: Feed) -> np.dtype:
    """Positions of rows within a file: int32 unless a file is too long for it."""
    return position_dtype(max(all_rows(feed), default=0))


def all_rows(feed: Feed) -> tuple[int, ...]:
    return tuple(feed.rows(file) for file in range(len(feed.names)))


def kept(part: Part, cut: int) -> slice | np.ndarray:
    """A part's rows that a model with this cut for its file read (a slice when the part is the whole file, or when
    the model reads every row of the part: its positions ascend, so the last one tells)."""
    if part.position is None:
        return slice(0, min(cut, len(part)))
    if not len(part) or part.position[-1] < cut:
        return slice(0, len(part))
    return np.flatnonzero(part.position < cut)


def read_chunks(read: slice | np.ndarray) -> Iterator[slice | np.ndarray]:
    """A part's rows that a model read (``kept``: a slice from 0, or positions) a chunk at a time, in order."""
    if isinstance(read, slice):
        return row_chunks(read.stop)
    return (read[chunk] for chunk in row_chunks(len(read)))


def file_positions(part: Part, rows: np.ndarray) -> np.ndarray:
    """File positions of a part's rows given as indexes into the part."""
    return rows if part.position is None else part.position[rows]


class Scan:
    """Per user, the highest row under a rule among the rows a model reads: parts in feed order, and a later
    part wins a tie (the priority is the rule's key, then the file, then the line)."""

    def __init__(self, feed: Feed, rule: tuple, cuts: tuple[int, ...], keys: Callable | None = None) -> None:
        self.feed, self.rule, self.cuts = feed, rule, cuts
        self._keys = keys or (lambda part, index: feed.values(part, feed.shape.version))

    def key(self, index: int, part: Part) -> np.ndarray | None:
        """The rule's key of each row of a part; None under a load order, where the last file loaded wins."""
        return None if self.rule[0] == "order" else self._keys(part, index)

    def parts(self) -> Iterator[tuple[int, Part]]:
        """The parts in the order they are read: the feed's, or the load order's (a file's parts stay in order)."""
        parts = list(enumerate(self.feed.parts))
        if self.rule[0] == "order":
            rank = {file: at for at, file in enumerate(self.rule[1])}
            parts.sort(key=lambda item: rank[item[1].file])
        return iter(parts)

    def best(self, *, ties: bool = False) -> Table:
        """The whole table: one pass over the read rows, a gather and a scatter per row."""
        size = self.feed.users
        key = np.full(size, np.iinfo("int64").min, dtype="int64")
        part_of = np.full(size, -1, dtype=code_dtype(len(self.feed.parts)))
        position = np.full(size, -1, dtype=row_dtype(self.feed))
        tied = np.zeros(size, dtype=bool) if ties else None
        for index, part in self.parts():
            rows = kept(part, self.cuts[part.file])
            users = part.user[rows]
            keys = self.key(index, part)
            if keys is None:
                wins = np.arange(len(users))
                winners = users
            else:
                keys = keys[rows]
                wins = np.flatnonzero(keys >= key[users])
                winners = users[wins]
                if ties:
                    tied[winners] = (keys[wins] == key[winners]) & (part_of[winners] >= 0)
                key[winners] = keys[wins]
            part_of[winners] = index
            position[winners] = file_positions(part, wins if isinstance(rows, slice) else rows[wins])
        model = Model(self.cuts, self.rule)
        return Table(part_of, position, part_of >= 0, model, tied=bool(ties and tied.any()))

    def runner_up(
        self, table: Table, users: np.ndarray, *, every_user: bool = False, slots: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """For ``users`` (sorted), the highest read row other than their pick: what they fall back to when
        their pick's file is left out (a part holds a user once, so the rest of the file goes with it).

        ``every_user`` says ``users`` are all the users the scanned feed holds rows of: every row read is theirs.
        ``slots``: a per-user integer array whose entries at ``users`` the scan may overwrite (the caller's, about
        to receive the results) instead of a 10 M-user scratch array of its own (40 MB)."""
        feed = self.feed
        if not every_user:
            wanted = np.zeros(feed.users, dtype=bool)
            wanted[users] = True
        slot_dtype = position_dtype(len(users))
        slot = slots if slots is not None and np.can_cast(slot_dtype, slots.dtype) else np.empty(feed.users, dtype=slot_dtype)
        slot[users] = np.arange(len(users), dtype=slot.dtype)
        picked = table.part[users]
        # Users losing one file's rows all pick in it: that part is not read for them.
        everyone_picks = int(picked[0]) if len(picked) and (picked == picked[0]).all() else None
        # The best key so far in the keys' own type (a version is often int32: half the memory of int64).
        types = [keys.dtype for index, part in self.parts() if (keys := self.key(index, part)) is not None]
        key_dtype = np.result_type(*types) if types else np.dtype("int64")
        key_dtype = key_dtype if key_dtype.kind == "i" else np.dtype("int64")  # as before for unsigned keys
        key = np.full(len(users), np.iinfo(key_dtype).min, dtype=key_dtype)
        part_of = np.full(len(users), -1, dtype=table.part.dtype)
        position = np.full(len(users), -1, dtype=table.position.dtype)
        first_read = True
        for index, part in self.parts():
            if index == everyone_picks:
                continue
            part_keys = self.key(index, part)
            # A chunk of rows at a time: a part holds a user once, so its chunks never compete for one, and the
            # temporaries stay a few MB (a 10 M-row part's were tens of MB at the diagnosis's peak).
            for rows in read_chunks(kept(part, self.cuts[part.file])):
                owners = part.user[rows]
                if every_user:
                    hits, at = np.arange(len(owners), dtype=position_dtype(len(owners))), slot[owners]
                else:
                    hits = np.flatnonzero(np.take(wanted, owners))  # a bool gather: 10 MB at 10 M users, mostly in cache
                    at = slot[owners[hits]]
                if everyone_picks is None:
                    other = picked[at] != index
                    hits, at = hits[other], at[other]
                if part_keys is not None:
                    keys = part_keys[rows][hits]
                    if not first_read:  # the first part read has no key to beat: each of its rows wins
                        wins = keys >= key[at]
                        hits, at, keys = hits[wins], at[wins], keys[wins]
                    key[at] = keys
                part_of[at] = index
                position[at] = file_positions(part, hits + rows.start if isinstance(rows, slice) else rows[hits])
            first_read = False
        return part_of, position


def picks_of(expected: ExpectedRows, feed: Feed) -> Table | None:
    """The deduplicated table's rows as picks: the file and line it names for each user, as part and position
    (None when it has no lineage or a file's line numbers repeat)."""
    indexes = [delta.frame.index for delta in feed.deltas]
    if expected.source_file is None or SOURCE_ROW not in expected.values or not all(index.is_unique for index in indexes):
        return None
    file = expected.file_codes(feed.names)
    lines = expected.values[SOURCE_ROW]
    if all(isinstance(index, pd.RangeIndex) for index in indexes):
        start = np.array([index.start for index in indexes] or [0], dtype="int64")
        step = np.array([index.step for index in indexes] or [1], dtype="int64")
        if (step == 1).all() and (start == start[0]).all():
            position = np.subtract(lines, start[0], out=np.empty(len(lines), dtype=row_dtype(feed)), casting="unsafe")
            position[file < 0] = -1
        else:
            known = np.maximum(file, 0)
            position = np.where(file >= 0, (lines - start[known]) // step[known], -1)
    else:
        position = np.full(len(file), -1, dtype="int64")
        for number, index in enumerate(indexes):
            at = np.flatnonzero(file == number)
            position[at] = pd.Index(index).get_indexer(lines[at])
    if feed.one_row_per_user_and_file:
        part = file.astype(code_dtype(len(feed.parts)))
    else:
        part = np.full(len(file), -1, dtype="int32")
        for index, candidate in enumerate(feed.parts):
            at = np.flatnonzero(file == candidate.file)
            rows = candidate.positions()
            found = np.searchsorted(rows, position[at])
            inside = found < len(rows)
            hit = at[inside][rows[found[inside]] == position[at[inside]]]
            part[hit] = index
    return Table(part, position.astype(row_dtype(feed), copy=False), part >= 0, Model(all_rows(feed), ("numeric",)))


def picked_values(feed: Feed, table: Table, users: np.ndarray, column: str) -> np.ndarray:
    """One column of the rows a table picked for ``users`` (users without a pick: not asked for)."""
    values = np.zeros(len(users), dtype="int64")
    for index, at in groups(table.part[users], len(feed.parts)):
        values[at] = feed.column(feed.parts[index].file, column)[table.position[users[at]]]
    return values


def history_values(
    feed: Feed, users: np.ndarray, column: str, latest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per user of ``users`` (positions, ascending): ``column`` summed over every feed row of theirs, and its value in
    their row before their latest (the largest version below ``latest``, their latest version; ``NULL`` where none).
    One pass over the feed's rows of those users."""
    version = feed.shape.version
    sums = np.zeros(len(users), dtype=np.int64)
    previous = np.full(len(users), NULL, dtype=np.int64)
    before = np.full(len(users), NULL, dtype=np.int64)  # the version of ``previous``
    for part in feed.parts:
        at = np.searchsorted(users, part.user)
        inside = at < len(users)
        inside[inside] = users[at[inside]] == part.user[inside]
        rows = np.flatnonzero(inside)
        if not len(rows):
            continue
        at = at[rows]
        values = feed.values(part, column, rows).astype(np.int64)
        versions = feed.values(part, version, rows).astype(np.int64)
        sums[at] += values  # a part holds a user once: no two rows of it add to one place (no ``np.add.at`` needed)
        older = (versions < latest[at]) & (versions > before[at])
        before[at[older]], previous[at[older]] = versions[older], values[older]
    return sums, previous


def expected_rows(feed: Feed, picks: Table) -> ExpectedRows:
    """``checks.dedup.deduplicate`` spread over the user index, from the numeric scan's picks."""
    size = feed.users
    present = picks.part >= 0
    columns = compared(feed.shape)
    values = {column: np.zeros(size, dtype="int64") for column in (*columns, SOURCE_ROW)}
    file = np.full(size, -1, dtype="int32")
    for index, users in groups(picks.part, len(feed.parts)):
        part = feed.parts[index]
        position = picks.position[users]
        for column in columns:
            values[column][users] = feed.column(part.file, column)[position]
        values[SOURCE_ROW][users] = feed.lines(np.full(len(users), part.file), position)
        file[users] = part.file
    total = int(values[feed.shape.amount].sum()) if feed.shape.amount else 0
    return ExpectedRows(present, values, total, feed.shape, file, feed.names)



def rows_per_user(users_of_parts: Iterable[np.ndarray], size: int, parts: int) -> np.ndarray:
    """Per user, how many of the parts' rows it has (``parts``: how many parts there are, each holding a user once).

    An increment per part in the narrowest type: no concatenated copy of every row and no 64-bit histogram.
    """
    count = np.zeros(size, dtype="uint8" if parts < 2**8 else "int32")
    for users in users_of_parts:
        count[users] += 1  # a part holds a user once: no index repeats
    return count


def groups(codes: np.ndarray, size: int) -> list[tuple[int, np.ndarray]]:
    """For each code from 0 to ``size`` - 1 present in ``codes``, where it occurs (ascending)."""
    if not len(codes):
        return []
    if size <= 16:
        # A pass per code beats a sort when the codes are few (a file each).
        narrow = position_dtype(len(codes))  # positions of 10 M users: half the memory as int32
        return [(code, where.astype(narrow)) for code in range(size) if len(where := np.flatnonzero(codes == code))]
    small = codes.astype("int16") if size < 2**15 else codes  # 16-bit keys sort by radix: linear
    order = np.argsort(small, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(small + 1, minlength=size + 1))])[1:]
    return [(code, order[start:stop]) for code, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])) if stop > start]


def text_order(batches: list[np.ndarray], render: Callable[[np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    """Keys ordering each part's versions as their text does ("1500" before "999"; equal text, equal key).

    ``render`` gives the text the files write for values in the computing form (``Codec.render``: a decimal,
    a timestamp, a string's dictionary code); without it the values are integers, written in decimal."""
    if render is not None:
        distinct = pd.unique(np.concatenate(batches)) if batches else np.array([], dtype="int64")
        rank = np.empty(len(distinct), dtype="int64")
        rank[np.argsort(np.asarray(render(distinct), dtype=str), kind="stable")] = np.arange(len(distinct))
        index = pd.Index(distinct)
        return [rank[index.get_indexer(values)] for values in batches]
    present = [values for values in batches if len(values)]
    lowest = min((int(values.min()) for values in present), default=0)
    highest = max((int(values.max()) for values in present), default=0)
    if lowest >= 0 and highest < 10**17:
        # The digits shifted to a common width, then the length: a prefix sorts before its extensions.
        digits = len(str(highest))
        powers = 10 ** np.arange(digits + 1, dtype="int64")

        def key(values: np.ndarray) -> np.ndarray:
            length = np.maximum(np.searchsorted(powers, values, side="right"), 1)
            return values * powers[digits - length] * (digits + 1) + length

        return [key(values) for values in batches]
    distinct = pd.unique(np.concatenate(batches)) if batches else np.array([], dtype="int64")
    rank = np.empty(len(distinct), dtype="int64")
    rank[np.argsort(distinct.astype(str), kind="stable")] = np.arange(len(distinct))
    index = pd.Index(distinct)
    return [rank[index.get_indexer(values)] for values in batches]


def sum_hashes(users: np.ndarray, hashes: np.ndarray, size: int, *, distinct: bool = False) -> np.ndarray:
    """Per user, the sum (mod 2**64) of its rows' hashes: an order-free signature of a set of rows.

    ``distinct`` says no user repeats; users in ascending order are summed by segments.
    """
    if distinct or not len(users):
        signature = np.zeros(size, dtype="uint64")
        signature[users] = hashes
        return signature
    if (users[1:] >= users[:-1]).all():
        # Unsigned integer sums wrap around, so they are the sums mod 2**64.
        starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]]))
        signature = np.zeros(size, dtype="uint64")
        signature[users[starts]] = np.add.reduceat(hashes, starts)
        return signature
    low = np.bincount(users, weights=(hashes & np.uint64(0xFFFFFFFF)).astype("float64"), minlength=size)
    high = np.bincount(users, weights=(hashes >> np.uint64(32)).astype("float64"), minlength=size)
    # Exact: each half is below 2**32 and no user has 2**21 rows.
    return (high.astype("uint64") << np.uint64(32)) + low.astype("uint64")

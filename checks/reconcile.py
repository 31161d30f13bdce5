"""Reconciling the platform's loaded table (and the customer's export) with the deduplicated feed, user by user.

Every user lands in exactly one class; the per-user spend gaps of all classes add up to the
total gap (expected total minus platform total). Every user has one position in a dense index, so each
step is a gather or a scatter over arrays: linear in rows, no merge, no sort of the feed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from checks.lineage import (
    Feed,
    Packing,
    PlatformRows,
    UserIndex,
    at_rows,
    code_dtype,
    match_rows,
    position_dtype,
    row_chunks,
    text_column,
)
from checks.contract import shape_or_default
from checks.model import (
    CLASS,
    CUSTOMER_CLASS,
    DETAIL,
    PLATFORM_ROW,
    PLATFORM_ROWS,
    SIDES,
    SOURCE_FILE,
    SOURCE_ROW,
    SPEND_GAP,
    Delta,
    Shape,
    side_column,
)

MATCH = "match"
STALE = "stale"
UNKNOWN_BATCH = "unknown_batch"
MISSING = "missing"
UNEXPECTED = "unexpected"
DUPLICATED = "duplicated"
VALUE_DRIFT = "value_drift"
CLASSES: tuple[str, ...] = (MATCH, STALE, UNKNOWN_BATCH, MISSING, UNEXPECTED, DUPLICATED, VALUE_DRIFT)
DETAILS: tuple[str, ...] = ("", "ahead", "unknown")  # of an unknown batch: beyond the feed's, or never in it
CUSTOMER_CLASSES: tuple[str, ...] = ("match", "differs", "missing", "not expected")
# Each class of users as people say it; the identifiers stay in JSON and CSV.
CLASS_WORDS = {
    MATCH: "match the feed",
    STALE: "hold an older row than their latest",
    UNKNOWN_BATCH: "hold a batch the feed never sent",
    MISSING: "missing from the table",
    UNEXPECTED: "not in the feed",
    DUPLICATED: "loaded more than once",
    VALUE_DRIFT: "values differ from the feed's",
}

EXAMPLES_PER_CLASS = 5


@dataclass(frozen=True)
class ClassSummary:
    """One class of users: how many, the dollars between expected and platform, a few examples."""

    name: str
    users: int
    revenue_gap: int
    examples: pd.DataFrame


@dataclass(frozen=True)
class Reconciliation:
    """Every class with its users and dollars, the totals, and the rows of the users that do not match.

    ``users`` has one row per user whose class (or, given a customer export, whose ``customer_class``)
    is not ``match``, in user_id order, with ``class``, ``detail`` (``ahead``/``unknown`` for an
    unknown batch), ``expected_*``, ``source_file``/``source_row``, ``platform_*``, ``platform_row``,
    ``platform_rows`` (how many rows the platform holds), ``customer_*`` and ``customer_class``
    when a customer export is given, and ``spend_gap`` (expected minus platform spend). Users that
    match are counted (``user_count``, the match class) but not listed: at 10 M users they are most
    of the table and say nothing the feed does not.
    """

    users: pd.DataFrame
    classes: tuple[ClassSummary, ...]
    expected_total: int
    platform_total: int
    customer_total: int | None
    user_count: int

    @property
    def gap(self) -> int:
        return self.expected_total - self.platform_total

    @property
    def discrepant_users(self) -> int:
        return sum(summary.users for summary in self.classes if summary.name != MATCH)

    def summary(self, name: str) -> ClassSummary:
        return next(summary for summary in self.classes if summary.name == name)


def reconcile(
    expected: pd.DataFrame,
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    *,
    feed: Sequence[Delta],
    shape: Shape | None = None,
) -> Reconciliation:
    """Classify every user of the expected and platform tables; ``feed`` tells stale from unknown batches."""
    shape = shape_or_default(shape)
    users = UserIndex(expected[shape.key].to_numpy(), platform[shape.key].to_numpy())
    # Feed rows of users in neither table cannot tell anything about the platform's batches.
    rows = Feed.stack(feed, users, shape=shape, only_indexed=True)
    platform_rows = PlatformRows.build(platform, users, shape.key)
    matches = match_rows(rows, platform_rows)
    return summarise_users(
        classify_users(
            ExpectedRows.spread(expected, users, shape), platform_rows, customer, known=matches.known_batch, users=users,
            packing=matches.packing,
        )
    )


def compared(shape: Shape) -> tuple[str, ...]:
    """The columns a row is compared on, the version last: what ``expected_*``, ``platform_*`` and ``customer_*`` hold."""
    return (*shape.values, shape.version)


def shown_columns(shape: Shape) -> dict[str, str]:
    """The per-user table's columns that show a contract column's values, each with that column (``platform_plan``:
    ``plan``); its own columns (the class, the gap, the lines) are not among them, whatever the contract's names."""
    return {shape.key: shape.key, **{side_column(side, column): column for side in SIDES for column in compared(shape)}}


def amount_total(frame: pd.DataFrame, shape: Shape) -> int:
    """The sum of the amount column in its computing form (0 when the contract declares none)."""
    return int(frame[shape.amount].sum()) if shape.amount is not None else 0


@dataclass(frozen=True)
class ExpectedRows:
    """The expected table spread over a user index: which users it holds, their values, and their lineage."""

    present: np.ndarray  # bool per user
    values: dict[str, np.ndarray]  # ``compared(shape)`` (and SOURCE_ROW when known) per user, int32 or int64 as the table has them
    total: int
    shape: Shape
    source_file: np.ndarray | None = None  # codes per user into ``file_names`` (-1 when absent)
    file_names: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every user of the index is expected (its values are then plain integer columns)."""
        return bool(self.present.all())

    @classmethod
    def spread(cls, expected: pd.DataFrame, users: UserIndex, shape: Shape | None = None) -> ExpectedRows:
        shape = shape_or_default(shape)
        ids = expected[shape.key].to_numpy()
        columns = [*compared(shape), *([SOURCE_ROW] if SOURCE_ROW in expected.columns else [])]
        total = amount_total(expected, shape)
        # Text from codes: a 10 M-row text column is hashed once, never held as a string per user.
        codes, names = _file_codes(expected[SOURCE_FILE]) if SOURCE_FILE in expected.columns else (None, ())
        if len(ids) == len(users) and np.array_equal(ids, users.ids):
            # The table is the index, in its order: its own columns, no copy.
            present = np.ones(len(users), dtype=bool)
            return cls(present, {column: expected[column].to_numpy() for column in columns}, total, shape, codes, names)
        at = users.locate(ids)
        present = np.zeros(len(users), dtype=bool)
        present[at] = True
        values = {column: _spread(expected[column].to_numpy(), at, len(users)) for column in columns}
        source_file = None if codes is None else _spread(codes, at, len(users), fill=-1)
        return cls(present, values, total, shape, source_file, names)

    def file_codes(self, names: Sequence[str]) -> np.ndarray:
        """Per user, the position in ``names`` of the file its expected row comes from (-1 when none)."""
        lookup = np.array([names.index(name) if name in names else -1 for name in self.file_names] + [-1], dtype="int32")
        return lookup[np.where(self.source_file >= 0, self.source_file, len(self.file_names))]


def _file_codes(files: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each row's file as a small code into the distinct names (-1 where missing), in order of appearance.

    Arrow encodes the column where it lives (a third of the time of ``pd.factorize``, no int64 codes).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(files.dtype, pd.CategoricalDtype):  # the polars engine's deduplicated table
        codes, names = pd.factorize(files)
        return codes.astype(code_dtype(len(names))), tuple(str(name) for name in names)
    array = files.array
    text = array.__arrow_array__() if hasattr(array, "__arrow_array__") else pa.array(files.to_numpy(dtype=object), from_pandas=True)
    if isinstance(text, pa.Array):
        text = pa.chunked_array([text])
    encoded = pc.dictionary_encode(text).unify_dictionaries().combine_chunks()
    names = tuple(str(name) for name in encoded.dictionary.to_pylist())
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(code_dtype(len(names)))  # a copy: Arrow's buffers go back now
    del text, encoded
    pa.default_memory_pool().release_unused()
    return codes, names


@dataclass(frozen=True)
class UserRows:
    """Every user's class and spend gap as arrays over the user index, and any users' rows of the table that
    ``Reconciliation.users`` lists (``frame``), built from the inputs only for the users asked for."""

    ids: np.ndarray
    expected: ExpectedRows
    platform: PlatformRows
    classes: np.ndarray  # int8 positions in CLASSES
    detail: np.ndarray  # int8 positions in DETAILS
    gap: np.ndarray  # expected minus platform spend
    customer: pd.DataFrame | None = None
    customer_first: np.ndarray | None = None  # per user, the customer's first row (-1 when none)
    customer_class: np.ndarray | None = None  # int8 positions in CUSTOMER_CLASSES
    # Whether every user has an expected, a platform and a customer row (else those columns hold NaN).
    complete: tuple[bool, bool, bool] = (True, True, True)

    def __len__(self) -> int:
        return len(self.ids)

    def listed(self) -> np.ndarray:
        """Per user, whether ``Reconciliation.users`` lists it: its class, or its customer class, is not a match."""
        listed = self.classes != CLASSES.index(MATCH)
        if self.customer_class is not None:
            listed |= self.customer_class != 0
        return listed

    def frame(self, users: np.ndarray) -> pd.DataFrame:
        """The rows of the users at positions ``users``, in that order; a column holds floats with NaN where
        some user of the whole index lacks a value (as an outer merge of every user would leave it)."""
        users = np.asarray(users, dtype="int64")
        expected, platform = self.expected, self.platform
        all_expected, all_loaded, all_held = self.complete
        in_expected = expected.present[users]
        shape = expected.shape
        columns: dict = {shape.key: self.ids[users]}
        for column in compared(shape):
            columns[side_column("expected", column)] = _nullable(expected.values[column][users], in_expected, all_expected)
        if expected.source_file is not None:
            columns[SOURCE_FILE] = text_column(expected.source_file[users], expected.file_names)
        if SOURCE_ROW in expected.values:
            columns[SOURCE_ROW] = _nullable(expected.values[SOURCE_ROW][users], in_expected, all_expected)
        count = platform.count[users]
        # Each user's first row, gathered once for every column (a user without one gets NaN).
        first = np.maximum(platform.first[users], 0)
        loaded = count > 0
        for column in compared(shape):
            columns[side_column("platform", column)] = _nullable(at_rows(platform.frame[column].to_numpy(), first), loaded, all_loaded)
        columns[PLATFORM_ROW] = _nullable(platform.lines(first), loaded, all_loaded)
        columns[PLATFORM_ROWS] = count.astype("int64")
        columns[CLASS] = text_column(self.classes[users], CLASSES)
        columns[DETAIL] = text_column(self.detail[users], DETAILS)
        columns[SPEND_GAP] = self.gap[users]
        if self.customer is not None:
            first = self.customer_first[users]
            held = first >= 0
            for column in compared(shape):
                columns[side_column("customer", column)] = _nullable(at_rows(self.customer[column].to_numpy(), first), held, all_held)
            columns[CUSTOMER_CLASS] = text_column(self.customer_class[users], CUSTOMER_CLASSES)
        # The arrays are this frame's own: no copy into 2-D blocks.
        return pd.DataFrame(columns, copy=False)


def classify_users(
    expected: ExpectedRows,
    platform: PlatformRows,
    customer: pd.DataFrame | None,
    *,
    known: np.ndarray,
    users: UserIndex,
    packing: Packing | None = None,
    customer_rows: tuple[np.ndarray, np.ndarray] | None = None,
    agreement: Agreement | None = None,
) -> UserRows:
    """Every user's class and gap over a user index (``summarise_users`` makes the ``Reconciliation`` of them).

    ``known`` says, per user, that the feed holds the platform's batch_id for it (``checks.lineage.match_rows``);
    ``packing`` (``Matches.packing``) compares the value columns of a row at once where it covers them;
    ``customer_rows`` is ``compare_customer(customer, expected, users)`` and ``agreement`` is
    ``compare_rows(expected, platform, packing)`` when the caller has them already.
    """
    size = len(users)
    in_expected = expected.present
    expected_values = expected.values
    count = platform.count
    version = expected.shape.version
    agreement = agreement or compare_rows(expected, platform, packing)
    classes = _classify(in_expected, count, agreement, known)
    unknown = np.flatnonzero(classes == CLASSES.index(UNKNOWN_BATCH))
    detail = np.zeros(size, dtype="int8")
    detail[unknown] = np.where(platform.values_at(version, unknown) > expected_values[version][unknown], 1, 2)
    gap = _gap(expected, platform, classes)

    customer_first, customer_class = None, None
    if customer is not None:
        customer_first, customer_class = customer_rows or compare_customer(customer, expected, users)
    complete = (
        expected.complete,
        bool(platform.first.min(initial=0) >= 0),
        customer_first is None or bool(customer_first.min(initial=0) >= 0),
    )
    return UserRows(users.ids, expected, platform, classes, detail, gap, customer, customer_first, customer_class, complete)


def summarise_users(rows: UserRows, listed: pd.DataFrame | None = None) -> Reconciliation:
    """The reconciliation of classified users: each class with a few examples, the totals, and the listed
    users' rows (``listed``: ``rows.frame(np.flatnonzero(rows.listed()))`` when the caller built it already)."""
    members = [int(np.count_nonzero(rows.classes == code)) for code in range(len(CLASSES))]  # no 10 M-row intp copy
    return Reconciliation(
        users=rows.frame(np.flatnonzero(rows.listed())) if listed is None else listed,
        classes=tuple(_summarise(rows, code, name, members[code]) for code, name in enumerate(CLASSES)),
        expected_total=rows.expected.total,
        platform_total=amount_total(rows.platform.frame, rows.expected.shape),
        customer_total=None if rows.customer is None else amount_total(rows.customer, rows.expected.shape),
        user_count=len(rows),
    )


def _spread(values: np.ndarray, at: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    out = np.full(size, fill, dtype=values.dtype)
    out[at] = values
    return out


def _nullable(values: np.ndarray, present: np.ndarray, whole: bool) -> np.ndarray:
    """As an outer merge leaves a column: integers when every user (``whole``) has a value, else floats with NaN."""
    if whole:
        return values
    return np.where(present, values.astype("float64"), np.nan)


def _gap(expected: ExpectedRows, platform: PlatformRows, classes: np.ndarray) -> np.ndarray:
    """Per user, expected minus platform amount. A match has none: only the other users' amounts are read."""
    amount = expected.shape.amount
    if amount is None:
        return np.zeros(len(classes), dtype="int64")
    expected_spend = expected.values[amount]
    platform_spend = platform.frame[amount].to_numpy()
    # Two narrowed (int32) spends differ by less than 2**31: the gap stays int32 then.
    gap = np.zeros(len(classes), dtype=np.result_type(expected_spend, platform_spend))
    if platform.count.max(initial=0) > 1:
        gap = gap.astype("int64")
        np.subtract.at(gap, platform.user, platform_spend)  # every row of a user counts
        gap += np.where(expected.present, expected_spend, 0)
        return gap
    off = np.flatnonzero(classes != CLASSES.index(MATCH))
    gap[off] = np.where(expected.present[off], expected_spend[off], 0) - platform.values_at(amount, off)
    return gap


@dataclass(frozen=True)
class Agreement:
    """Per user, how its expected row compares with its platform row (the first): equal, of the same version, or
    with the platform's version the older (users lacking either row compare values of 0)."""

    same: np.ndarray
    same_batch: np.ndarray
    older: np.ndarray


def compare_rows(expected: ExpectedRows, platform: PlatformRows, packing: Packing | None = None) -> Agreement:
    """Every user's expected row compared with its platform row; ``packing`` (``Packing.of`` the feed and the
    platform) compares the value columns at once where it covers the expected rows."""
    expected_values, version = expected.values, expected.shape.version
    if packing is not None and not packing.covers(expected_values):
        packing = None
    if packing is not None and packing.version is not None:
        # The version packed with the values: each user's two keys say it all, no column spread over the users.
        platform_key = platform.packed(packing)
        same, same_batch, older = (np.empty(len(platform.count), dtype=bool) for _ in range(3))
        for users in row_chunks(len(same)):  # the expected rows packed a chunk at a time
            key = packing.pack({column: expected_values[column][users] for column in packing.names})
            theirs = platform_key[users]
            same[users] = key == theirs
            same_batch[users] = packing.same_version(key ^ theirs)
            older[users] = packing.version_order(theirs) < packing.version_order(key)
        return Agreement(same, same_batch, older)
    platform_batch = platform.values(version)
    same_batch = expected_values[version] == platform_batch
    same = same_batch.copy()
    if packing is not None:
        platform_key = platform.packed(packing)
        for users in row_chunks(len(same)):  # the expected rows packed a chunk at a time
            same[users] &= packing.pack({column: expected_values[column][users] for column in packing.columns}) == platform_key[users]
    else:
        for column in expected.shape.values:
            same &= expected_values[column] == platform.values(column)
    return Agreement(same, same_batch, platform_batch < expected_values[version])


def _classify(in_expected: np.ndarray, count: np.ndarray, agreement: Agreement, known: np.ndarray) -> np.ndarray:
    """Each user's class as its position in ``CLASSES`` (int8)."""
    classes = np.empty(len(count), dtype="int8")
    # A chunk of users at a time: the dozen passes over it stay in the cache.
    for users in row_chunks(len(count)):
        chunk, users_count = classes[users], count[users]
        chunk.fill(CLASSES.index(UNKNOWN_BATCH))
        # In the order of the conditions: later ones only where no earlier one holds.
        for condition, name in reversed(
            [
                (users_count > 1, DUPLICATED), (users_count == 0, MISSING), (~in_expected[users], UNEXPECTED),
                (agreement.same[users], MATCH), (agreement.same_batch[users], VALUE_DRIFT),
                (known[users] & agreement.older[users], STALE),
            ]
        ):
            chunk[condition] = CLASSES.index(name)
    return classes


def compare_customer(customer: pd.DataFrame, expected: ExpectedRows, users: UserIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the customer's first row (-1 when none) and its class: the position in ``CUSTOMER_CLASSES``
    of whether that row agrees with the expected row (independent of the platform: it may run meanwhile)."""
    in_expected, expected_values = expected.present, expected.values
    columns_compared = compared(expected.shape)
    first = _first_rows(customer[expected.shape.key].to_numpy(), users)
    held = first >= 0
    agrees = in_expected & held
    # 3 not expected, 2 expected but not held, 1 held but differing, 0 agreeing: counted down, no masked writes.
    customer_class = np.subtract(3, in_expected, dtype="int8")
    customer_class -= agrees
    columns = {column: customer[column].to_numpy() for column in columns_compared}
    packing = Packing.spanning({column: [columns[column], expected_values[column]] for column in columns_compared})
    if packing is not None:
        # The values packed into one integer per row: one gather per user instead of one per column.
        rows_key = packing.pack(columns)
        for chunk in row_chunks(len(users)):
            agrees[chunk] &= at_rows(rows_key, first[chunk]) == packing.pack({column: expected_values[column][chunk] for column in columns_compared})
    else:
        # A chunk of users at a time, every column: no 10 M-row gather per column in fresh memory (five columns of
        # 10 M users: 0.45-0.50 CPU-s, 0.66-0.68 whole).
        for chunk in row_chunks(len(users)):
            rows = first[chunk]
            for column in columns_compared:
                agrees[chunk] &= at_rows(columns[column], rows) == expected_values[column][chunk]
    customer_class -= agrees
    return first, customer_class


def _first_rows(ids: np.ndarray, users: UserIndex) -> np.ndarray:
    """Per user of the index, the position of its first row among ``ids`` (-1 when none); ids outside the index
    (users only the customer holds: neither expected nor loaded, though the totals count them) are passed over.

    A chunk of rows at a time, the last chunk first and each backwards, so that a user's first row is written last:
    no positions or row numbers of the whole table (80 MB of fresh memory at 10 M rows, page faults included)."""
    dtype = position_dtype(len(ids))
    first = np.full(len(users), -1, dtype=dtype)
    for rows in reversed(list(row_chunks(len(ids)))):
        found = users.find(ids[rows])
        numbers = np.arange(rows.start, rows.stop, dtype=dtype)
        if found.min(initial=0) < 0:
            held = found >= 0
            numbers, found = numbers[held], found[held]
        first[found[::-1]] = numbers[::-1]
    return first


def _summarise(rows: UserRows, code: int, name: str, members: int) -> ClassSummary:
    if not members:
        return ClassSummary(name=name, users=0, revenue_gap=0, examples=rows.frame(np.array([], dtype="int64")))
    if name == MATCH:
        # A match has one platform row equal to the expected one: no gap, so the examples are the first ones.
        first = _first_positions(rows.classes, code, EXAMPLES_PER_CLASS)
        return ClassSummary(name=name, users=members, revenue_gap=0, examples=rows.frame(first))
    where = np.flatnonzero(rows.classes == code)
    gaps = rows.gap[where]
    # The largest gaps first: they are the examples a person wants to see.
    order = where[largest(np.abs(gaps), EXAMPLES_PER_CLASS)]
    return ClassSummary(name=name, users=members, revenue_gap=int(gaps.sum()), examples=rows.frame(order))


def _first_positions(codes: np.ndarray, code: int, count: int) -> np.ndarray:
    """The first ``count`` positions holding ``code``, reading no further than needed."""
    found, start, step = [], 0, 4096
    while start < len(codes) and sum(map(len, found)) < count:
        found.append(start + np.flatnonzero(codes[start : start + step] == code))
        start, step = start + step, step * 4
    return np.concatenate(found)[:count] if found else np.array([], dtype="int64")


def largest(sizes: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` largest ``sizes``, as a stable sort by decreasing size would list them first."""
    if len(sizes) <= count:
        return np.argsort(-sizes, kind="stable")
    if sizes.min() == sizes.max():
        return np.arange(count)  # all tied (a class of matches): the first ones
    threshold = np.partition(sizes, len(sizes) - count)[len(sizes) - count]
    # All above the threshold, then the first ties in order: no sort of a class full of equal gaps.
    above = np.flatnonzero(sizes > threshold)
    above = above[np.argsort(-sizes[above], kind="stable")]
    return np.concatenate([above, np.flatnonzero(sizes == threshold)[: count - len(above)]])

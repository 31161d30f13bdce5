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

from checks.dedup import SOURCE_FILE, SOURCE_ROW
from checks.lineage import Feed, PlatformRows, UserIndex, match_rows, text_column
from checks.validate import Delta

MATCH = "match"
STALE = "stale"
UNKNOWN_BATCH = "unknown_batch"
MISSING = "missing"
UNEXPECTED = "unexpected"
DUPLICATED = "duplicated"
VALUE_DRIFT = "value_drift"
CLASSES: tuple[str, ...] = (MATCH, STALE, UNKNOWN_BATCH, MISSING, UNEXPECTED, DUPLICATED, VALUE_DRIFT)

VALUES: tuple[str, ...] = ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")
PLATFORM_ROW = "platform_row"
PLATFORM_ROWS = "platform_rows"
SPEND_GAP = "spend_gap"
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
    """Every user with its class, its expected, platform and customer rows, and the spend gap.

    ``users`` has one row per user_id with ``class``, ``detail`` (``ahead``/``unknown`` for an
    unknown batch), ``expected_*``, ``source_file``/``source_row``, ``platform_*``, ``platform_row``,
    ``platform_rows`` (how many rows the platform holds), ``customer_*`` and ``customer_class``
    when a customer export is given, and ``spend_gap`` (expected minus platform spend).
    """

    users: pd.DataFrame
    classes: tuple[ClassSummary, ...]
    expected_total: int
    platform_total: int
    customer_total: int | None

    @property
    def gap(self) -> int:
        return self.expected_total - self.platform_total

    @property
    def discrepant_users(self) -> int:
        return int(self.users["class"].ne(MATCH).sum())

    def summary(self, name: str) -> ClassSummary:
        return next(summary for summary in self.classes if summary.name == name)


def reconcile(
    expected: pd.DataFrame,
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    *,
    feed: Sequence[Delta],
) -> Reconciliation:
    """Classify every user of the expected and platform tables; ``feed`` tells stale from unknown batches."""
    users = UserIndex(expected["user_id"].to_numpy(dtype="int64"), platform["user_id"].to_numpy(dtype="int64"))
    # Feed rows of users in neither table cannot tell anything about the platform's batches.
    rows = Feed.stack(feed, users, only_indexed=True)
    platform_rows = PlatformRows.build(platform, users)
    known = match_rows(rows, platform_rows).known_batch
    return reconcile_rows(ExpectedRows.spread(expected, users), platform_rows, customer, known=known, users=users)


@dataclass(frozen=True)
class ExpectedRows:
    """The expected table spread over a user index: which users it holds, their values, and their lineage."""

    present: np.ndarray  # bool per user
    values: dict[str, np.ndarray]  # VALUES (and SOURCE_ROW when known), int64 per user
    total: int
    source_file: np.ndarray | pd.Series | None = None  # codes per user into ``file_names`` (-1 when absent), or text
    file_names: tuple[str, ...] = ()
    # The table's own columns when it is the index in its order: shared by the users frame, copied on write.
    shared: dict[str, pd.Series] | None = None

    @property
    def complete(self) -> bool:
        """Every user of the index is expected (its values are then plain int64 columns)."""
        return bool(self.present.all())

    @classmethod
    def spread(cls, expected: pd.DataFrame, users: UserIndex) -> ExpectedRows:
        ids = expected["user_id"].to_numpy(dtype="int64")
        columns = [*VALUES, *([SOURCE_ROW] if SOURCE_ROW in expected.columns else [])]
        total = int(expected["total_spend"].sum())
        if len(ids) == len(users) and np.array_equal(ids, users.ids):
            # The table is the index, in its order: its own columns, no copy.
            present = np.ones(len(users), dtype=bool)
            shared = {column: expected[column].reset_index(drop=True) for column in expected.columns}
            values = {column: shared[column].to_numpy(dtype="int64") for column in columns}
            return cls(present, values, total, shared.get(SOURCE_FILE), shared=shared)
        at = users.locate(ids)
        present = np.zeros(len(users), dtype=bool)
        present[at] = True
        values = {column: _spread(expected[column].to_numpy(dtype="int64"), at, len(users)) for column in columns}
        source_file, names = None, ()
        if SOURCE_FILE in expected.columns:
            # Text from codes: building a 10 M-row text column from Python objects takes seconds.
            codes, uniques = pd.factorize(expected[SOURCE_FILE])
            source_file, names = _spread(codes, at, len(users), fill=-1), tuple(uniques)
        return cls(present, values, total, source_file, names)

    def file_codes(self, names: Sequence[str]) -> np.ndarray:
        """Per user, the position in ``names`` of the file its expected row comes from (-1 when none)."""
        if isinstance(self.source_file, pd.Series):
            import pyarrow as pa

            # The column's own Arrow array (no copy), dictionary-encoded by Arrow.
            encoded = pa.array(self.source_file.array).dictionary_encode()
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            indices = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, indices) if encoded.indices.null_count else indices
            dictionary = encoded.dictionary.to_pylist()
        else:
            indices, dictionary = self.source_file, list(self.file_names)
        lookup = np.array([names.index(name) if name in names else -1 for name in dictionary] + [-1], dtype="int32")
        return lookup[np.where(np.asarray(indices) >= 0, indices, len(dictionary))]


def reconcile_rows(
    expected: ExpectedRows,
    platform: PlatformRows,
    customer: pd.DataFrame | None,
    *,
    known: np.ndarray,
    users: UserIndex,
) -> Reconciliation:
    """``reconcile`` on tables already spread over a user index; ``known`` says, per user, that the feed holds
    the platform's batch_id for it (``checks.lineage.match_rows``)."""
    size = len(users)
    in_expected = expected.present
    expected_values = expected.values
    shared = expected.shared or {}
    # Shared columns go in as Series: the frame then copies them on write instead of writing into the input.
    columns: dict = {"user_id": shared.get("user_id", users.ids)}
    for column in VALUES:
        columns["expected_" + column] = shared.get(column, _nullable(expected_values[column], in_expected))
    if isinstance(expected.source_file, pd.Series):
        columns[SOURCE_FILE] = expected.source_file
    elif expected.source_file is not None:
        columns[SOURCE_FILE] = text_column(expected.source_file, expected.file_names)
    if SOURCE_ROW in expected_values:
        columns[SOURCE_ROW] = shared.get(SOURCE_ROW, _nullable(expected_values[SOURCE_ROW], in_expected))

    count = platform.count
    has_platform = count > 0
    platform_values = {column: platform.values(column) for column in VALUES}
    for column in VALUES:
        columns["platform_" + column] = _nullable(platform_values[column], has_platform)
    first = platform.first if has_platform.all() else np.maximum(platform.first, 0)
    columns[PLATFORM_ROW] = _nullable(platform.lines(first), has_platform)
    columns[PLATFORM_ROWS] = count

    classes = _classify(in_expected, has_platform, count, expected_values, platform_values, known)
    columns["class"] = text_column(classes, CLASSES)
    unknown = np.flatnonzero(classes == CLASSES.index(UNKNOWN_BATCH))
    detail = np.zeros(size, dtype="int8")
    detail[unknown] = np.where(platform_values["batch_id"][unknown] > expected_values["batch_id"][unknown], 1, 2)
    columns["detail"] = text_column(detail, ("", "ahead", "unknown"))
    if count.max(initial=0) <= 1:
        platform_spend = platform_values["total_spend"]  # 0 for users without a row
    else:
        platform_spend = np.zeros(size, dtype="int64")
        np.add.at(platform_spend, platform.user, platform.frame["total_spend"].to_numpy(dtype="int64"))
    gap = (expected_values["total_spend"] if expected.complete else np.where(in_expected, expected_values["total_spend"], 0)) - platform_spend
    columns[SPEND_GAP] = gap

    customer_total = None
    if customer is not None:
        columns |= _customer_columns(customer, users, in_expected, expected_values)
        customer_total = int(customer["total_spend"].sum())

    # The arrays are this function's own or its inputs' (never written to): no copy into one 2-D block.
    table = pd.DataFrame(columns, copy=False)
    members = [int(np.count_nonzero(classes == code)) for code in range(len(CLASSES))]  # no 10 M-row intp copy
    return Reconciliation(
        users=table,
        classes=tuple(_summarise(table, classes, gap, code, name, int(members[code])) for code, name in enumerate(CLASSES)),
        expected_total=expected.total,
        platform_total=int(platform.frame["total_spend"].sum()),
        customer_total=customer_total,
    )


def _spread(values: np.ndarray, at: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    out = np.full(size, fill, dtype="int64")
    out[at] = values
    return out


def _nullable(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """As an outer merge leaves a column: integers when every user has a value, else floats with NaN."""
    if present.all():
        return values
    return np.where(present, values.astype("float64"), np.nan)


def _classify(in_expected, has_platform, count, expected_values, platform_values, known) -> np.ndarray:
    """Each user's class as its position in ``CLASSES`` (int8)."""
    same_batch = expected_values["batch_id"] == platform_values["batch_id"]
    same = same_batch.copy()
    for column in VALUES[:-1]:
        same &= expected_values[column] == platform_values[column]
    stale = known & (platform_values["batch_id"] < expected_values["batch_id"])
    # In the order of the conditions: later ones only where no earlier one holds.
    classes = np.full(len(count), CLASSES.index(UNKNOWN_BATCH), dtype="int8")
    for condition, name in reversed(
        [(count > 1, DUPLICATED), (count == 0, MISSING), (~in_expected, UNEXPECTED), (same, MATCH), (same_batch, VALUE_DRIFT), (stale, STALE)]
    ):
        classes[condition] = CLASSES.index(name)
    return classes


def _customer_columns(customer, users, in_expected, expected_values) -> dict:
    """The customer's first row per user and whether it agrees with the expected row."""
    size = len(users)
    # Users only the customer holds are neither expected nor loaded; the totals still count them.
    found = users.find(customer["user_id"].to_numpy(dtype="int64"))
    rows = slice(None) if found.min(initial=0) >= 0 else np.flatnonzero(found >= 0)
    found = found[rows]
    in_customer = np.zeros(size, dtype=bool)
    in_customer[found] = True
    # Scattered backwards (random writes are cheaper than random reads): a user's first row is written last.
    found = found[::-1]
    everyone = bool(in_customer.all())
    agrees = in_expected & in_customer
    columns = {}
    for column in VALUES:
        picked = np.zeros(size, dtype="int64")
        picked[found] = customer[column].to_numpy(dtype="int64")[rows][::-1]
        agrees &= picked == expected_values[column]
        columns["customer_" + column] = picked if everyone else _nullable(picked, in_customer)
    customer_class = np.full(size, 3, dtype="int8")
    customer_class[in_expected] = 2
    customer_class[in_expected & in_customer] = 1
    customer_class[agrees] = 0
    columns["customer_class"] = text_column(customer_class, ("match", "differs", "missing", "not expected"))
    return columns


def _summarise(users: pd.DataFrame, classes: np.ndarray, gap: np.ndarray, code: int, name: str, members: int) -> ClassSummary:
    if not members:
        return ClassSummary(name=name, users=0, revenue_gap=0, examples=users.iloc[:0].reset_index(drop=True))
    if name == MATCH:
        # A match has one platform row equal to the expected one: no gap, so the examples are the first ones.
        first = _first_positions(classes, code, EXAMPLES_PER_CLASS)
        return ClassSummary(name=name, users=members, revenue_gap=0, examples=users.iloc[first].reset_index(drop=True))
    where = np.flatnonzero(classes == code)
    gaps = gap[where]
    # The largest gaps first: they are the examples a person wants to see.
    order = where[largest(np.abs(gaps), EXAMPLES_PER_CLASS)]
    return ClassSummary(
        name=name,
        users=members,
        revenue_gap=int(gaps.sum()),
        examples=users.iloc[order].reset_index(drop=True),
    )


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

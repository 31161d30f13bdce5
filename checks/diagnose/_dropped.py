"""What the keys a table lacks share, and no other key does: one value of one column (a filter dropped them), or a
place in key order (the table stops, or starts, there: an export's row limit, a load that stopped part way).

Asked of the users left missing (a row expected, none on the platform) among the users with an expected row, on
arrays over those users: named only where it holds for every one of them and for no other user, and for at least
``MIN_DROPPED`` of them, so that one or two missing keys do not make a filter of a value they happen to hold. The
Spark engine asks the same of its tables in Spark SQL (``checks.engines.spark_faults``).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_DROPPED = 3
AFTER, BEFORE = "after", "before"


@dataclass(frozen=True)
class Dropped:
    """What the missing keys share: ``column`` (None for a place in key order) and its ``value`` as the files write
    it ("" for empty), or the key (as the files write it) the table stops ``after`` (or starts ``before``) in key
    order."""

    column: str | None
    value: str
    side: str = ""


def filterable(columns: Sequence[str], version: str) -> list[str]:
    """Of the compared ``columns``, those a filter by value is looked for in: all but the ``version``. One version
    shared by every missing key and by no other is one file's rows (a file whose keys the load rewrote, so that they
    fell back to older rows under other keys): no load filters by it."""
    return [column for column in columns if column != version]


def by_value(
    missing: np.ndarray, columns: Sequence[str], values_at: Callable[[str, np.ndarray | None], np.ndarray],
    render: Callable[[str, int], str],
) -> Dropped | None:
    """The first of ``columns`` whose value is the same for every missing user and for no other: ``missing`` a mask
    over the users with an expected row, ``values_at(column, positions)`` a column's values at some of them (None: at
    all, asked only of a column the missing users agree on)."""
    lost = np.flatnonzero(missing)
    if len(lost) < MIN_DROPPED:
        return None
    for column in columns:
        shared = values_at(column, lost)
        if (shared != shared[0]).any():
            continue
        if int(np.count_nonzero(values_at(column, None) == shared[0])) == len(lost):
            return Dropped(column, render(column, int(shared[0])))
    return None


def explains_cut(dropped: Dropped | None, facts: Callable[[str], tuple[bool, Collection[str]]]) -> bool:
    """Whether a file found cut short is the filter ``dropped`` names instead: every user the cut explains has no row on
    the platform and holds the filtered value. ``facts(column)``, asked only of a filter by value, tells of those users
    whether none has a row, and the distinct values they hold in the filter's column, as the files write them. One
    story then tells every missing key: a filter's victim whose row ended its file looks like the file's last line lost
    (a filter on plan took one account so, told as "file only partly loaded"). A cut whose users hold other values, or
    still have rows, stays a cut."""
    if dropped is None or dropped.column is None:
        return False
    without_row, values = facts(dropped.column)
    return without_row and set(values) == {dropped.value}


def by_key_order(missing: np.ndarray, keys: Any) -> tuple[str, Any] | None:
    """Whether the missing users' keys all follow (``AFTER``) or all precede (``BEFORE``) every other user's in key
    order, with the key the table stops after (or starts before). ``keys``: the users' keys (NumPy integers, or an Arrow
    array of text for a text key, ordered as Spark SQL orders text: by code point)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if int(missing.sum()) < MIN_DROPPED or missing.all():
        return None
    keys = keys if isinstance(keys, pa.Array) else pa.array(keys)
    kept, lost = (pc.min_max(keys.filter(pa.array(mask))) for mask in (~missing, missing))
    return cut_in_key_order((lost["min"].as_py(), lost["max"].as_py()), (kept["min"].as_py(), kept["max"].as_py()))


def cut_in_key_order(lost: tuple[Any, Any], kept: tuple[Any, Any]) -> tuple[str, Any] | None:
    """From the missing keys' lowest and highest and the other keys' (None: there are none), whether the missing ones
    all follow (``AFTER``) or all precede (``BEFORE``) the others, with the key the table stops after or starts before."""
    (low, high), (kept_low, kept_high) = lost, kept
    if kept_high is None:
        return None
    if low > kept_high:
        return AFTER, kept_high
    if high < kept_low:
        return BEFORE, kept_low
    return None

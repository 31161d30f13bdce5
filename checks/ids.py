"""Integer ids: whether they count up by one, whether they are all distinct (a flag per id where the ids are
dense enough, else a sort), and whether an array indexed by id is small enough to build (``dense``).

Flagging is one scattered write per id and one count: 0.03-0.08 CPU-s at 10 M ids alone on this project's
machines. NumPy's sort is fast only where it has a SIMD kernel for the CPU: 0.09 CPU-s on one machine,
0.65 on another (AMD EPYC, NumPy 2.4). Within a whole 10 M-user run, where the scattered writes miss the
cache more, the two measured the same to within the run's noise (17.9-18.8 CPU-s either way).
"""
from __future__ import annotations

import numpy as np

# Flags take one byte per id up to the largest; a sort takes eight per id. Beyond this many bytes per id
# (sparse ids: hashes, timestamps) the flags would be the larger, and the sort is used.
_FLAG_BYTES_PER_ID = 8


def dense(largest: int, count: int, *, slots_per_id: float, slack: int = 0) -> bool:
    """Whether an array indexed by id, ``largest + 1`` slots, is worth building for ``count`` ids: at most
    ``slots_per_id`` slots an id (plus ``slack``). Each caller sets the ratio at which its table would cost more than
    the sort or hash it replaces; the rule (the table's size against the ids it serves) is this one."""
    return largest + 1 <= slots_per_id * max(count, 1) + slack


def consecutive(values: np.ndarray) -> bool:
    """Whether ``values`` count up by one from their first (none at all: False)."""
    if len(values) == 0 or int(values[-1]) - int(values[0]) != len(values) - 1:
        return False
    return bool((values[1:] > values[:-1]).all())  # rising throughout over that span: by one each time


def all_distinct(ids: np.ndarray, largest: int) -> bool:
    """Whether no value of ``ids`` (non-negative integers, at most ``largest``) occurs twice."""
    if ids.size < 2:
        return True
    if dense(largest, ids.size, slots_per_id=_FLAG_BYTES_PER_ID):
        flags = np.zeros(largest + 1, dtype=np.bool_)
        flags[ids] = True
        return int(np.count_nonzero(flags)) == ids.size
    ordered = np.sort(ids)
    return not bool((ordered[1:] == ordered[:-1]).any())

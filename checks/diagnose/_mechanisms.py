"""What a load did to the values of rows it kept: each mechanism applied to the expected rows of drifting users,
confirmed where it reproduces their platform rows exactly.

Every mechanism is one vectorised pass over the drifting users' rows in their int64 computing form
(``checks.encoding``): ``expected`` and ``platform`` map each compared column to one array over the
same users. A column's mechanism (zeroed, nulled, constant, filled, scaled, rounded or truncated, timezone_shift, a text
rewritten, added up over the files, not updated by the latest row) or a
swap of two columns explains that column for a user; a user is explained when every column that
differs is. A parameter the data shows (a constant, a factor, an offset in hours) is read from the
users, then confirmed on each of them: nothing is credited from a statistic alone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from checks.contract import Column
from checks.diagnose._keys import REWRITES
from checks.diagnose.results import (
    ACCUMULATED,
    COLUMNS_SWAPPED,
    CONSTANT,
    FILLED,
    NOT_UPDATED,
    NULLED,
    ROUNDED,
    SCALED,
    TEXT_REWRITTEN,
    TIMEZONE_SHIFT,
    TRUNCATED,
    ZEROED,
    Mechanism,
)
from checks.encoding import NULL

# A mechanism whose parameter is read from the data (a constant, an unusual factor, a precision, hours, an
# offset) must reproduce this many users, and this share of the users it was tried on, to be named: random
# changes make a few such coincidences. Swaps, zeroes, empties and the usual factors need one user.
MIN_USERS = 3
MIN_SHARE = 0.2
_USUAL_FACTORS = (100, 1000, 10)  # cents and dollars, milli-units, a decimal point moved once (tried in this order)
_MICROSECONDS_PER_HOUR = 3_600_000_000
_MAX_HOURS = 26  # the widest gap between two time zones, and a day's saving time


def column_mechanisms(
    expected: dict[str, np.ndarray],
    platform: dict[str, np.ndarray],
    columns: dict[str, Column],
    texts: Callable[[str, np.ndarray], np.ndarray] | None = None,
    history: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[tuple[Mechanism, np.ndarray]]:
    """The mechanisms that explain the drifting users, each with the users (a mask) whose rows it reproduces
    entirely (with the other mechanisms found for their other columns). Users explained by none are in no mask.

    ``texts`` turns a string column's codes into its text: each string column has its own dictionary, so two
    string columns are compared as text. ``history``: per column, each user's value summed over the feed's rows and
    its value in the row before the latest (``checks.diagnose._scan.history_values``)."""
    names = list(columns)
    differ = {name: expected[name] != platform[name] for name in names}
    explained = {name: np.zeros_like(differ[name]) for name in names}
    found: list[tuple[Mechanism, np.ndarray]] = []
    for at, first in enumerate(names):
        for second in names[at + 1 :]:
            if not _swappable(columns[first], columns[second]):
                continue
            comparable = _as_text(texts) if columns[first].logical_type == "string" else _as_codes
            swapped = (comparable(first, platform[first]) == comparable(second, expected[second])) & (
                comparable(second, platform[second]) == comparable(first, expected[first])
            )
            swapped &= (differ[first] | differ[second]) & ~explained[first] & ~explained[second]
            if swapped.any():
                explained[first] |= swapped
                explained[second] |= swapped
                found.append((Mechanism(COLUMNS_SWAPPED, (first, second)), swapped))
    for name in names:
        while (left := differ[name] & ~explained[name]).any():
            best = max(
                _column_candidates(expected[name], platform[name], left, name, columns[name], texts, (history or {}).get(name)),
                key=lambda candidate: int(candidate[1].sum()),
                default=None,
            )
            if best is None or not best[1].any():
                break
            explained[name] |= best[1]
            found.append(best)
    whole = np.ones(len(next(iter(differ.values()), [])), dtype=bool)
    for name in names:
        whole &= ~differ[name] | explained[name]
    return [(mechanism, users & whole) for mechanism, users in found if (users & whole).any()]


def _as_codes(name: str, values: np.ndarray) -> np.ndarray:
    return values


def _as_text(texts: Callable[[str, np.ndarray], np.ndarray] | None) -> Callable[[str, np.ndarray], np.ndarray]:
    return texts or _as_codes


def _swappable(first: Column, second: Column) -> bool:
    """Two columns whose values can trade places in a table: the same type, the same decimals."""
    return first.logical_type == second.logical_type and first.decimal == second.decimal


def _column_candidates(
    expected: np.ndarray, platform: np.ndarray, left: np.ndarray, name: str, column: Column,
    texts: Callable[[str, np.ndarray], np.ndarray] | None = None,
    history: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Each mechanism of one column, applied to the users ``left`` (a mask): the mechanism and the users it reproduces."""
    # Engines may hold a column as int32 where it fits; the factors and steps tried here need int64.
    expected, platform = expected.astype(np.int64, copy=False), platform.astype(np.int64, copy=False)
    kind = column.logical_type
    numeric = column.exact and kind in ("integer", "number")
    if numeric:
        yield Mechanism(ZEROED, (name,)), left & (platform == 0)
    if not column.required:
        yield Mechanism(NULLED, (name,)), left & (platform == NULL)
    value = _mode(platform[left & (platform != NULL)])
    if value is not None:
        users = left & (platform == value)
        if _credible(users, left):
            # Written only where the file's cell was empty: a placeholder for no value ("NULL"), not a constant.
            filled = not (expected[users] != NULL).any()
            yield Mechanism(FILLED if filled else CONSTANT, (name,), int(value)), users
    if numeric:
        yield from _scalings(expected, platform, left, name)
        yield from _roundings(expected, platform, left, name, column)
    if kind in ("timestamp", "date"):
        yield from _time_shifts(expected, platform, left, name, kind)
    if kind == "string" and texts is not None:
        yield from _text_rewrites(expected, platform, left, name, texts)
    if history is not None:
        summed, previous = history
        if numeric and column.required:  # the files read as increments: each one's value added to the table's
            yield Mechanism(ACCUMULATED, (name,)), left & (platform == summed)
        # The latest row loaded but for this column, which kept the value of the row it replaced.
        yield Mechanism(NOT_UPDATED, (name,)), left & (previous != NULL) & (platform == previous)


def _scalings(expected: np.ndarray, platform: np.ndarray, left: np.ndarray, name: str):
    """Multiplied by a whole factor (exactly), or divided by one (to the nearest value the column holds); negated
    (a sign convention other than the file's), like the usual factors, named from one user."""
    valid = left & (expected != NULL) & (platform != NULL)
    yield Mechanism(SCALED, (name,), -1), valid & (expected != 0) & (platform == -expected)
    e, p = expected[valid & (expected != 0) & (platform != 0)], platform[valid & (expected != 0) & (platform != 0)]
    multiple = (p % e == 0) & (np.abs(p) > np.abs(e))
    divided = np.abs(e) > np.abs(p)
    seen_factor = _mode(p[multiple] // e[multiple])
    seen_divisor = _mode(np.rint(e[divided] / p[divided]).astype("int64"))
    # The usual factors first: where a factor read from the data explains as many users, the usual one is named.
    factors = dict.fromkeys([*_USUAL_FACTORS, *([] if seen_factor is None else [int(seen_factor)])])
    divisors = dict.fromkeys([*_USUAL_FACTORS, *([] if seen_divisor is None else [int(seen_divisor)])])
    for factor in (factor for factor in factors if abs(factor) > 1):
        users = valid & (platform == expected * factor)
        if factor in _USUAL_FACTORS or _credible(users, left):
            yield Mechanism(SCALED, (name,), factor), users
    for divisor in (divisor for divisor in divisors if abs(divisor) > 1):
        users = valid & (np.abs(expected - platform * divisor) < divisor)
        if divisor in _USUAL_FACTORS or _credible(users, left):
            yield Mechanism(SCALED, (name,), 1 / divisor), users


def _roundings(expected: np.ndarray, platform: np.ndarray, left: np.ndarray, name: str, column: Column):
    """Rounded or truncated to a power of ten: the platform's value a multiple of it, less than one step away.
    The precision is in decimals, as Python's ``round`` takes it: 2 two decimals, 0 whole units, -1 tens."""
    scale = column.decimal[1] if column.decimal else 0
    valid = left & (expected != NULL) & (platform != NULL)
    distance = np.abs(expected - platform)
    for power in range(1, 16):
        step = 10**power
        multiples = valid & (platform % step == 0)
        if not multiples.any():
            break  # a value no multiple of this step is none of a larger one
        users = multiples & (distance < step)
        # Not stopped where no user is within this step: values cut to whole units are within 10 cents of theirs only
        # where their cents were below 10 (none may be).
        if _credible(users, left):
            kind = _truncated_or_rounded(expected[users], platform[users], distance[users], step)
            yield Mechanism(kind, (name,), scale - power), users


def _truncated_or_rounded(expected: np.ndarray, platform: np.ndarray, distance: np.ndarray, step: int) -> str:
    """``TRUNCATED`` where every value moved toward zero and some further than half a step (2032.99 as 2032.00: its
    digits cut, which rounding to the nearest never does), else ``ROUNDED`` (to the nearest, or a mix of both)."""
    toward_zero = np.abs(platform) <= np.abs(expected)
    return TRUNCATED if toward_zero.all() and bool((2 * distance > step).any()) else ROUNDED


def _time_shifts(expected: np.ndarray, platform: np.ndarray, left: np.ndarray, name: str, kind: str):
    """Moved by whole hours (a date: by whole days, 24 hours each)."""
    unit = _MICROSECONDS_PER_HOUR if kind == "timestamp" else 1
    per_hour = 1 if kind == "timestamp" else 24
    valid = left & (expected != NULL) & (platform != NULL)
    moved = platform[valid] - expected[valid]
    whole = moved[moved % unit == 0] // unit
    seen = _mode(whole[(whole != 0) & (np.abs(whole * per_hour) <= _MAX_HOURS)])
    if seen is not None:
        users = valid & (platform - expected == seen * unit)
        if _credible(users, left):
            yield Mechanism(TIMEZONE_SHIFT, (name,), int(seen) * per_hour), users


def _text_rewrites(
    expected: np.ndarray, platform: np.ndarray, left: np.ndarray, name: str, texts: Callable[[str, np.ndarray], np.ndarray]
):
    """Text rewritten one usual way (``checks.diagnose._keys.REWRITES``: upper- or lower-cased, trimmed, leading zeros
    dropped): the platform's text is the file's, rewritten. Split by value, an upper-cased column read as one
    constant per value (``plan`` "pro" as "PRO" for every row)."""
    at = np.flatnonzero(left & (expected != NULL) & (platform != NULL))
    if not len(at):
        return
    sent, held = pd.Series(texts(name, expected[at]), dtype=object), np.asarray(texts(name, platform[at]), dtype=object)
    for rewrite, apply in REWRITES.items():
        users = np.zeros_like(left)
        users[at] = apply(sent).to_numpy(dtype=object) == held
        yield Mechanism(TEXT_REWRITTEN, (name,), rewrite), users


def _credible(users: np.ndarray, left: np.ndarray) -> bool:
    count = int(users.sum())
    return count >= MIN_USERS and count >= MIN_SHARE * int(left.sum())


def _mode(values: np.ndarray) -> int | None:
    """The most frequent value (the smallest of the most frequent), None for no values."""
    if not len(values):
        return None
    distinct, counts = np.unique(values, return_counts=True)
    return int(distinct[np.argmax(counts)])


@dataclass(frozen=True)
class Rows:
    """Rows in one order (a file's, or the expected rows' in key order), read a column at a time: ``at`` the
    values at some positions, ``where`` the positions holding a value. Nothing is gathered for every row."""

    count: int
    at: Callable[[str, np.ndarray], np.ndarray]
    where: Callable[[str, int], np.ndarray]


def shifted_rows(platform: dict[str, np.ndarray], positions: np.ndarray, rows: Rows) -> tuple[int, np.ndarray] | None:
    """Rows attached to the wrong key: the offset (in the order of ``rows``) at which the rows hold each user's
    platform values, and the users (a mask over ``positions``, each user's own position) it reproduces."""
    names = list(platform)[::-1]  # the version first: the other columns are compared on its matches only
    if len(positions) < MIN_USERS or not rows.count:
        return None
    # The offset is read from a few users (the rows equal to their platform row), then confirmed on all.
    offsets = []
    for at in range(min(len(positions), 8)):
        same = rows.where(names[0], platform[names[0]][at])
        for name in names[1:]:
            same = same[rows.at(name, same) == platform[name][at]]
        offsets.extend((same - positions[at]).tolist())
    offset = _mode(np.asarray([offset for offset in offsets if offset != 0], dtype="int64"))
    if offset is None:
        return None
    source = positions + offset
    users = (source >= 0) & (source < rows.count)
    taken = np.where(users, source, 0)
    for name in names:
        users &= rows.at(name, taken) == platform[name]
    return (offset, users) if _credible(users, np.ones(len(users), dtype=bool)) else None

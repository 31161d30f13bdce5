"""The mechanisms of value drift the simple way: a loop over the drifting users' rows as Python integers.

The same rules as ``checks.diagnose._mechanisms`` (the order mechanisms are tried in, the thresholds for a
parameter read from the data), written as one user at a time so that the two can be held to the same answers.
Each user is (expected row, platform row): dicts from column to int, in the computing form.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from checks.diagnose._mechanisms import MIN_SHARE, MIN_USERS
from checks.diagnose.results import (
    COLUMNS_SWAPPED,
    CONSTANT,
    ROUNDED,
    SCALED,
    SHIFTED_KEYS,
    TRUNCATED,
    ZEROED,
    Mechanism,
)

Row = dict[str, int]
USUAL_FACTORS = (100, 1000, 10)


def column_mechanisms(rows: list[tuple[Row, Row]], columns: list[str]) -> list[tuple[Mechanism, set[int]]]:
    """For integer columns (the first customer's): each mechanism and the users (indexes into ``rows``) it
    explains wholly, with the mechanisms of their other columns."""
    explained: dict[str, set[int]] = {column: set() for column in columns}

    def differs(user: int, column: str) -> bool:
        expected, platform = rows[user]
        return expected[column] != platform[column]

    found: list[tuple[Mechanism, set[int]]] = []
    for at, first in enumerate(columns):
        for second in columns[at + 1 :]:
            swapped = {
                user
                for user, (expected, platform) in enumerate(rows)
                if platform[first] == expected[second] and platform[second] == expected[first]
                and (differs(user, first) or differs(user, second))
                and user not in explained[first] and user not in explained[second]
            }
            if swapped:
                explained[first] |= swapped
                explained[second] |= swapped
                found.append((Mechanism(COLUMNS_SWAPPED, (first, second)), swapped))
    for column in columns:
        while True:
            left = [user for user in range(len(rows)) if differs(user, column) and user not in explained[column]]
            if not left:
                break
            best = None
            for mechanism, users in _candidates(rows, left, column):
                if best is None or len(users) > len(best[1]):
                    best = (mechanism, users)
            if best is None or not best[1]:
                break
            explained[column] |= best[1]
            found.append(best)
    whole = {user for user in range(len(rows)) if all(not differs(user, column) or user in explained[column] for column in columns)}
    return [(mechanism, users & whole) for mechanism, users in found if users & whole]


def _candidates(rows: list[tuple[Row, Row]], left: list[int], column: str):
    expected = {user: rows[user][0][column] for user in left}
    platform = {user: rows[user][1][column] for user in left}
    yield Mechanism(ZEROED, (column,)), {user for user in left if platform[user] == 0}
    common = _mode([platform[user] for user in left])
    if common is not None:
        users = {user for user in left if platform[user] == common}
        if _credible(users, left):
            yield Mechanism(CONSTANT, (column,), common), users
    nonzero = [user for user in left if expected[user] != 0 and platform[user] != 0]
    seen_factor = _mode([
        platform[user] // expected[user] for user in nonzero
        if platform[user] % expected[user] == 0 and abs(platform[user]) > abs(expected[user])
    ])
    seen_divisor = _mode([round(expected[user] / platform[user]) for user in nonzero if abs(expected[user]) > abs(platform[user])])
    for factor in dict.fromkeys([*USUAL_FACTORS, *([] if seen_factor is None else [seen_factor])]):
        if abs(factor) > 1:
            users = {user for user in left if platform[user] == expected[user] * factor}
            if factor in USUAL_FACTORS or _credible(users, left):
                yield Mechanism(SCALED, (column,), factor), users
    for divisor in dict.fromkeys([*USUAL_FACTORS, *([] if seen_divisor is None else [seen_divisor])]):
        if abs(divisor) > 1:
            users = {user for user in left if abs(expected[user] - platform[user] * divisor) < divisor}
            if divisor in USUAL_FACTORS or _credible(users, left):
                yield Mechanism(SCALED, (column,), 1 / divisor), users
    for power in range(1, 16):
        step = 10**power
        multiples = {user for user in left if platform[user] % step == 0}
        if not multiples:
            break
        users = {user for user in multiples if abs(expected[user] - platform[user]) < step}
        if _credible(users, left):
            cut = all(abs(platform[user]) <= abs(expected[user]) for user in users) and any(
                2 * abs(expected[user] - platform[user]) > step for user in users
            )
            yield Mechanism(TRUNCATED if cut else ROUNDED, (column,), -power), users


def shifted_rows(platform: list[Row], positions: list[int], file_rows: list[Row]) -> tuple[int, set[int]] | None:
    """Each user's platform row equal to the file's row ``offset`` positions from its own, for one offset."""
    if len(positions) < MIN_USERS or not file_rows:
        return None
    offsets = [
        row - positions[user]
        for user in range(min(len(positions), 8))
        for row, values in enumerate(file_rows)
        if values == platform[user]
    ]
    offset = _mode([offset for offset in offsets if offset != 0])
    if offset is None:
        return None
    users = {
        user for user, position in enumerate(positions)
        if 0 <= position + offset < len(file_rows) and file_rows[position + offset] == platform[user]
    }
    return (offset, users) if _credible(users, positions) else None


def shifted_keys(
    rest: list[int], by_file: Callable[[], list[tuple[list[int], list[Row], list[int], list[Row]]]], by_key: tuple[list[Row], list[int], list[Row]], key: str
) -> list[tuple[Mechanism, set[int]]]:
    """``by_file``: per file, the users left (indexes), their platform rows, their positions in it, its rows;
    ``by_key``: the users' platform rows, their ranks among the expected rows in key order, those rows."""
    found = []
    taken: set[int] = set()
    for users, platform, positions, file_rows in by_file():
        shifted = shifted_rows(platform, positions, file_rows)
        if shifted is not None:
            offset, hits = shifted
            explained = {users[hit] for hit in hits}
            taken |= explained
            found.append((Mechanism(SHIFTED_KEYS, (key,), offset, "file"), explained))
    left = [at for at, user in enumerate(rest) if user not in taken]
    platform, ranks, expected = by_key
    shifted = shifted_rows([platform[at] for at in left], [ranks[at] for at in left], expected)
    if shifted is not None:
        offset, hits = shifted
        found.append((Mechanism(SHIFTED_KEYS, (key,), offset, "key"), {rest[left[hit]] for hit in hits}))
    return found


def _credible(users, left) -> bool:
    return len(users) >= MIN_USERS and len(users) >= MIN_SHARE * len(left)


def _mode(values: list[int]) -> int | None:
    if not values:
        return None
    counts = Counter(values)
    most = max(counts.values())
    return min(value for value, count in counts.items() if count == most)

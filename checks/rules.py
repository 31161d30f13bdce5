"""The checks' names and the wording of each failure, declared once: every engine reports with these.

The pandas reference (``checks.validate``, ``checks.crossfeed``, ``checks.dedup``), Polars, DuckDB and
Spark compute failures each in their own way; what a failure is called, which column it names and
how its value reads come from here, so that every engine's failures compare equal to the last word.
Declarations only: this module imports nothing of the package, so every module may use it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# A cell is an integer literal: digits with an optional sign, nothing else (no 12.0, 1e3, blanks).
INTEGER_PATTERN = r"^[+-]?[0-9]+$"

# A delta's checks, by the names Pandera gives them (the text pass, then the value pass).
IS_INTEGER = "is_integer"
NOT_EMPTY = "not_empty"
FIELD_UNIQUENESS = "field_uniqueness"
VALUE_CHECKS: dict[str, str] = {
    "user_id": "greater_than(0)",
    "total_spend": "greater_than_or_equal_to(0)",
    "count_saved_items": "greater_than_or_equal_to(0)",
    "loyalty_credits": "greater_than_or_equal_to(0)",
    "batch_id": "greater_than_or_equal_to(0)",
}

# The checks across the feed, and the dedup's.
BATCH_MONOTONIC = "batch_monotonic"
PAIR_UNIQUE = "user_batch_unique_across_files"
SPEND_NEVER_DECREASES = "spend_never_decreases"
UNIQUE_LATEST_BATCH = "unique_latest_batch"

# What reading a file notes without failing it.
BOM_IGNORED = "UTF-8 byte-order mark ignored"


@dataclass(frozen=True)
class FeedRule:
    """A check across the feed: its name, the column its failures name, and how each failure's value reads.

    ``wording`` is a printf template, which Python's ``%`` and Spark's ``format_string`` read alike.
    """

    check: str
    column: str
    wording: str

    def values(self, *fields: Iterable[Any]) -> list[str]:
        """The wording filled in with the ``fields``' items, one value per offending row."""
        return [self.wording % items for items in zip(*fields)]


# In the order every engine reports them.
FEED_RULES: dict[str, FeedRule] = {
    # batch_id, the largest batch_id of the files before, the file that holds it
    BATCH_MONOTONIC: FeedRule(BATCH_MONOTONIC, "batch_id", "%d <= %d (largest batch_id in %s)"),
    # user_id, batch_id, the file and line of the pair's first occurrence
    PAIR_UNIQUE: FeedRule(PAIR_UNIQUE, "batch_id", "user_id %d, batch_id %d already in %s row %d"),
    # total_spend, the user's spend before, at that batch_id, in that file
    SPEND_NEVER_DECREASES: FeedRule(SPEND_NEVER_DECREASES, "total_spend", "%d < %d at batch_id %d (%s)"),
}


def column_renamed(original: str, name: str) -> str:
    """The warning for a header name read in another form (``Total_spend`` as ``total_spend``)."""
    return f"column {original!r} read as {name!r}"


def describe_ties(users: int, first_user: int, batch: int, places: Sequence[tuple[str, int]]) -> str:
    """The message of the ``UNIQUE_LATEST_BATCH`` error: users whose largest batch_id is on two rows."""
    where = " and ".join(f"{file} row {row}" for file, row in places)
    return (
        f"{users} user(s) have two rows with their largest batch_id, so the latest row is ambiguous; "
        f"e.g. user {first_user} has batch_id {batch} in {where}"
    )

"""The evidence sentences of the root causes, in the feed's words (the reference diagnosis in tests/ words its findings with these too)."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from checks.diagnose.results import FILE_NOT_INGESTED, FILE_PARTIALLY_INGESTED, WRONG_DEDUP_ORDER
from checks.model import SOURCE_FILE, SOURCE_ROW
from checks.wording import Words, default_words


def simulation_sentence(
    kind: str,
    note: dict,
    name: str | None,
    count: int,
    dollars: int,
    agree: int,
    size: int,
    examples: pd.DataFrame,
    without_row: int = 0,
    words: Words | None = None,
) -> str:
    """What a simulated fault reproduces: ``count`` keys (``without_row`` of them left with no row at all),
    ``dollars`` of gap; ``agree`` of ``size`` keys agree with it."""
    w = words or default_words()
    whole = f"the table simulated with this fault agrees with the platform for {agree:,} of {size:,} {w.keys}"
    example = example_sentence(examples, w)
    if kind == FILE_NOT_INGESTED:
        lacking = _older_or_none(count, without_row, w.keys, f" instead of their latest one in {name}")
        return (
            f"{lacking}, as if {name} had never "
            f"been loaded; together they are {w.money(dollars)} short. Rebuilding the table from the feed "
            f"without {name} reproduces these rows exactly ({whole}).{example}"
        )
    if kind == FILE_PARTIALLY_INGESTED:
        return (
            f"Only the first {note['kept']:,} of {note['total']:,} rows of {name} reached the platform: "
            f"{_older_or_none(count, without_row, f'{w.keys} whose latest row is further down the file')}, "
            f"{w.money(dollars)} in all ({whole}).{example}"
        )
    if kind == WRONG_DEDUP_ORDER:
        if note["rule"] == "string":
            how = f"comparing {w.version} as text (so 999 beats 1500) instead of by its value"
        else:
            how = "keeping the row of the last file loaded, with files loaded in the order " + ", ".join(note["order"])
        return (
            f"{count:,} {w.keys} hold a row that is not their latest; deduplicating the feed by {how} "
            f"reproduces them exactly, {w.money(dollars)} in all ({whole}).{example}"
        )
    return (
        f"{count:,} {w.keys} appear once per feed row instead of once: the table equals the feed without "
        f"deduplication for them, {w.money(-dollars)} counted twice or more ({whole}).{example}"
    )


def _older_or_none(count: int, without_row: int, who: str, instead: str = "") -> str:
    """``count`` ``who`` that hold an older row (``instead`` of what), or none at all: their only rows went unread."""
    older = f"hold an older row{instead}"
    none = "have no row at all (no other row of theirs was loaded)"
    if not without_row:
        return f"{count:,} {who} {older}"
    if without_row == count:
        return f"{count:,} {who} {none}"
    return f"{count:,} {who} lack their latest row: {count - without_row:,} {older} and {without_row:,} {none}"


def missing_sentence(count: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} of the feed are absent from the platform's table, "
        f"{w.money(dollars)} of {w.amount_word} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def unexpected_sentence(count: int, no_file: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} on the platform should not be there ({no_file:,} of their rows match no delta "
        f"file), adding {w.money(-dollars)} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def duplicate_sentence(count: int, extra: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} appear more than once on the platform ({extra:,} extra rows), "
        f"counting {w.money(-dollars)} more than once (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def drift_sentence(members: pd.DataFrame, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    """``members``: the drifting keys' rows of the per-key table (expected_* and platform_* columns)."""
    w = words or default_words()
    changed = [
        f"{column} for {int(count):,}"
        for column in w.encoding.contract.shape.values
        if (count := members[f"expected_{column}"].ne(members[f"platform_{column}"]).sum())
    ]
    return (
        f"{len(members):,} {w.keys} hold the right {w.version} with different values ({', '.join(changed)} {w.keys}), "
        f"{w.money(dollars)} in all (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def example_sentence(examples: pd.DataFrame, words: Words | None = None) -> str:
    if examples.empty:
        return ""
    w = words or default_words()
    version, amount = w.version, w.encoding.contract.shape.amount
    row = examples.iloc[0]

    def state(prefix: str) -> str:
        held = f"{version} {w.version_value(row[f'{prefix}_{version}'])}"
        return held + (f", {w.amount_word} {w.money(row[f'{prefix}_{amount}'])}" if amount else "")

    platform = state("platform") if pd.notna(row[f"platform_{version}"]) else "no row"
    where = f" from {row['platform_file']}" if row["platform_file"] else ""
    return (
        f" For example, {w.key_word} {w.key(row[w.key_name])} has {platform}{where} on the platform, but its latest "
        f"row is {state('expected')}, in {row[SOURCE_FILE]} row {_integer(row[SOURCE_ROW])}."
    )


def _id_list(examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return ", ".join(w.key(key) for key in examples[w.key_name].head(3))


def _integer(value: Any) -> str:
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value)}"


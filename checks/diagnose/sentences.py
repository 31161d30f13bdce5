"""The evidence sentences of the root causes, in the feed's words (the reference diagnosis in tests/ words its findings with these too)."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from checks.diagnose._dropped import AFTER, Dropped
from checks.diagnose._keys import LEADING_ZEROS, LOWERCASE, OTHER, TRIMMED, UPPERCASE
from checks.diagnose.results import (
    ACCUMULATED,
    COLUMNS_SWAPPED,
    CONSTANT,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    FILLED,
    KEYS_REWRITTEN,
    NOT_UPDATED,
    NULLED,
    ROUNDED,
    SCALED,
    SHIFTED_KEYS,
    TEXT_REWRITTEN,
    TIMEZONE_SHIFT,
    TRUNCATED,
    WRONG_DEDUP_ORDER,
    ZEROED,
    cause_label,
    Mechanism,
    RootCause,
)
from checks.model import SOURCE_FILE, SOURCE_ROW, side_column
from checks.wording import Words, agreeing, counted, default_words, shown_cell


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
        lacking = _older_or_none(count, without_row, w, instead=f" instead of their latest one in {name}")
        return (
            f"{lacking}, as if {name} had never "
            f"been loaded{w.money_part('; together they are {} short', dollars)}. Rebuilding the table from the feed "
            f"without {name} reproduces these rows exactly ({whole}).{example}"
        )
    if kind == FILE_PARTIALLY_INGESTED:
        return (
            f"Only the first {note['kept']:,} of {note['total']:,} rows of {name} reached the platform: "
            f"{_older_or_none(count, without_row, w, whose=' whose latest row is further down the file')}"
            f"{w.money_part(', {} in all', dollars)} ({whole}).{example}"
        )
    if kind == WRONG_DEDUP_ORDER:
        if note["rule"] == "string":
            how = f"comparing {w.version} as text (so 999 beats 1500) instead of by its value"
        elif note.get("first_wins"):
            order = ", ".join(note["order"])
            how = f"keeping the first row each {w.key_word} got instead of its latest (the files loaded newest first: {order})"
        else:
            how = "keeping the row of the last file loaded, with files loaded in the order " + ", ".join(note["order"])
        return (
            f"{w.count(count)} {agreeing(count, 'hold')} a row that is not their latest; deduplicating the feed by {how} "
            f"reproduces them exactly{w.money_part(', {} in all', dollars)} ({whole}).{example}"
        )
    return (
        f"{w.count(count)} {agreeing(count, 'appear')} once per feed row instead of once: the table equals the feed without "
        f"deduplication for them{w.money_part(', {} counted twice or more', -dollars)} ({whole}).{example}"
    )


def _older_or_none(count: int, without_row: int, w: Words, whose: str = "", instead: str = "") -> str:
    """``count`` keys (``whose`` which) that hold an older row (``instead`` of what), or none at all: their only rows
    went unread."""
    who = f"{w.count(count)}{whose}"

    def older(number: int) -> str:
        return f"{agreeing(number, 'hold')} an older row{instead}"

    def none(number: int) -> str:
        return f"{agreeing(number, 'have')} no row at all (no other row of theirs was loaded)"

    if not without_row:
        return f"{who} {older(count)}"
    if without_row == count:
        return f"{who} {none(count)}"
    older_row = count - without_row
    return (
        f"{who} {agreeing(count, 'lack')} their latest row: {older_row:,} {older(older_row)} and {without_row:,} {none(without_row)}"
    )


def missing_sentence(
    count: int, dollars: int, examples: pd.DataFrame, words: Words | None = None, dropped: Dropped | None = None
) -> str:
    w = words or default_words()
    shared = f": {dropped_words(dropped, w)}" if dropped is not None else ""
    return (
        f"{w.count(count)} of the feed {agreeing(count, 'are')} absent from the platform's table"
        f"{w.money_part(', {} of ' + w.amount_word, dollars)}{shared} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def lacking_rows_sentence(
    name: str, count: int, latest: int, dollars: int, examples: pd.DataFrame, words: Words | None = None,
    dropped: Dropped | None = None,
) -> str:
    """``count`` of the ``latest`` keys whose latest row is in ``name`` hold an older row: those rows of the file did
    not reach the table, the others' did (no cut: rows lacking here and there)."""
    w = words or default_words()
    # Rows lacking from one file, not from the table: neither a table that stops nor an export told as the reason.
    shared = f" What sets them apart from the others: {dropped_words(dropped, w, why=False)}." if dropped is not None else ""
    return (
        f"{w.count(count)} of the {latest:,} whose latest row is in {name} {agreeing(count, 'hold')} an older row instead: "
        f"their rows of {name} did not reach the table while the others' did, here and there in the file rather than "
        f"from one line on{w.money_part('; together they are {} short', dollars)}.{shared}{example_sentence(examples, w)}"
    )


def dropped_words(dropped: Dropped, words: Words | None = None, *, why: bool = True) -> str:
    """What the missing keys share and no other does, and (``why``) what drops rows so: "every account with plan
    enterprise, and no other (a filter between the file and the table, or in the export)"."""
    w = words or default_words()
    if dropped.column is None:
        reason = (
            f" (the table {'stops' if dropped.side == AFTER else 'starts'} there: an export's row limit, or a load that "
            f"stopped part way)"
        )
        return f"every {w.key_word} {dropped.side} {dropped.value} in {w.key_name} order, and no other{reason if why else ''}"
    held = f"no {_column_word(dropped.column, w)}" if dropped.value == "" else f"{_column_word(dropped.column, w)} {dropped.value}"
    reason = " (a filter between the file and the table, or in the export)"
    return f"every {w.key_word} with {held}, and no other{reason if why else ''}"


def unexpected_sentence(count: int, no_file: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{w.count(count)} on the platform should not be there ({no_file:,} of their rows {agreeing(no_file, 'match')} "
        f"no delta file){w.money_part(', adding {}', -dollars)} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def quarantined_sentence(
    name: str, count: int, as_sent: int, dollars: int, examples: pd.DataFrame, words: Words | None = None
) -> str:
    """``count`` keys whose platform row is their row of ``name``, a file validation quarantined (``as_sent`` of them
    equal to it in every column)."""
    w = words or default_words()
    same = "every one as the file wrote it" if as_sent == count else f"{as_sent:,} as the file wrote it"
    return (
        f"{w.count(count)} {agreeing(count, 'hold')} their row of {name} ({same}), a file that failed validation and "
        f"was quarantined: the platform loaded it anyway"
        f"{w.money_part(', adding {}', -dollars) if dollars <= 0 else w.money_part(', {} short', dollars)} "
        f"(e.g. {w.key_word} {_id_list(examples, w)})."
    )


def rewritten_sentence(
    mechanism: Mechanism, file: str | None, count: int, dollars: int, changes: list[dict[str, str]], words: Words | None = None,
    *, changed: int = 0, kept_older: tuple[int, int] | None = None,
) -> str:
    """``count`` keys a load rewrote (``keys_rewritten``): missing as sent, their rows held under the rewritten keys;
    ``changed`` of those rows are not the ones expected (the causes beside this one tell why, at their dollars). With
    ``kept_older``, one file's load only: its rows under the rewritten keys, and how many keys are left on an older
    row, and of those how many on none (their only row was the file's)."""
    w = words or default_words()
    what, why, _ = mechanism_words(mechanism, w)
    example = ", ".join(f"{change['file']} is on the platform as {change['platform']}" for change in changes)
    example = f" For example, {w.key_word} {example}." if example else ""
    if kept_older is not None:
        left, none = kept_older
        older = f", and {left:,} of them {agreeing(left, 'keep')} an older row under their own" if left else ""
        older += f" ({none:,} of them no row at all)" if none else ""
        moved = _amount_moved(dollars, w, "that")
        return (
            f"{_loaded(file)}, {what} for {w.count(count)} ({why}): the file's rows of them are on the platform under the "
            f"rewritten {w.key_name}, which the feed never sent{older}{moved}.{example}"
        )
    if changed:
        moved = (
            f"; {changed:,} of those rows {agreeing(changed, 'are')} not the {w.key_word}'s latest as the feed sent it: "
            f"the causes beside this one tell why"
        )
    else:
        moved = w.money_part("; that moved {} in all", dollars) if dollars else w.amount_part(f"; the {w.amount_word} did not change")
    return (
        f"{_loaded(file)}, {what} for {w.count(count)} ({why}): each one's row is on the platform under the rewritten "
        f"{w.key_name}, so the table misses {count:,} {w.keys} the feed sent and holds {count:,} it never sent{moved}."
        f"{example}"
    )


def duplicate_sentence(
    count: int, extra: int, dollars: int, examples: pd.DataFrame, words: Words | None = None, *, appended: str | None = None
) -> str:
    """``count`` keys the platform holds more than once; ``appended``: the file whose row each of them holds beside
    another (its rows added to the table's instead of merged into them)."""
    w = words or default_words()
    beside = (
        f": each holds its row of {appended} beside another, as if {appended} had been appended to the table instead of "
        f"merged into it"
    ) if appended else ""
    return (
        f"{w.count(count)} {agreeing(count, 'appear')} more than once on the platform ({counted(extra, 'extra row')})"
        f"{w.money_part(', counting {} more than once', -dollars)}{beside} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def drift_sentence(members: pd.DataFrame, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    """``members``: the drifting keys' rows of the per-key table (expected_* and platform_* columns)."""
    w = words or default_words()
    counts = [
        (column, int(count))
        for column in w.encoding.contract.shape.values
        if (count := members[side_column("expected", column)].ne(members[side_column("platform", column)]).sum())
    ]
    # "score for 3, active for 2 members": the last count, beside the noun, takes its number.
    shown = [f"{column} for {count:,}" for column, count in counts[:-1]]
    shown += [f"{column} for {w.count(count)}" for column, count in counts[-1:]]
    changed = ", ".join(shown)
    return (
        f"{w.count(len(members))} {agreeing(len(members), 'hold')} the right {w.version} with different values ({changed})"
        f"{w.money_part(', {} in all', dollars)} (e.g. {w.key_word} {_id_list(examples, w)}). No known change of a load "
        "(columns swapped, scaled, rounded, emptied, keys shifted, time zone) reproduces them."
    )


# What each mechanism did, why a load does that, and the fix, for people (``{column}``: the column's word).
_MECHANISM_WORDS: dict[str, tuple[str, str, str]] = {
    COLUMNS_SWAPPED: (
        "{column} and {other} were swapped",
        "the columns mapped by position in another order than the file's header",
        "map columns by their header names, never by position, and check each file's header against the contract before loading",
    ),
    SCALED: (
        "{column} was {scaled}",
        "{unit}",
        "read {column} in the unit the contract declares and compare each file's total with the table's after the load",
    ),
    ROUNDED: (
        "{column} was rounded to {precision}",
        "a conversion to a coarser type (a float, an integer or a narrower decimal) on the way in",
        "keep {column} at the contract's precision through the load: no cast to a float or a narrower type",
    ),
    TRUNCATED: (
        "{column} was truncated to {precision}",
        "a cast to an integer or a narrower decimal that drops the digits beyond it instead of rounding them",
        "keep {column} at the contract's precision through the load: no cast to an integer or a narrower type",
    ),
    ZEROED: (
        "{column} was set to 0",
        "a default written where the value was not read (a column mapped by a name the file does not have)",
        "map {column} by its header name and fail the load when a column the contract requires is missing",
    ),
    NULLED: (
        "{column} was left empty",
        "the value lost on the way in (a failed conversion, or a column mapped by a name the file does not have)",
        "map {column} by its header name and fail the load when a value that was in the file arrives empty",
    ),
    FILLED: (
        "{column} left empty in the file was written as {value}",
        "a placeholder for a missing value, such as NULL or N/A, written as text on the way in",
        "load an empty {column} as empty (null), never as a placeholder, and check after each load that the table's empty cells are the file's",
    ),
    CONSTANT: (
        "{column} was replaced by the same value, {value}, for every row",
        "a default or placeholder written instead of the file's value",
        "load {column} from the file, and fail the load when a column holds one value for every row of a file that has several",
    ),
    SHIFTED_KEYS: (
        "each row's values were attached to the wrong {key}: every {key} holds the values of the row {distance} {direction} in {order}",
        "values joined to keys by row number after a sort, a skipped line or a header read as data",
        "keep each row's values with its own {key}: never join values to keys by row number",
    ),
    TIMEZONE_SHIFT: (
        "{column} was moved {hours}",
        "a local time read as UTC, or a UTC time converted twice",
        "parse {column} with its offset and store it in UTC; compare a file's first and last {column} with the table's after the load",
    ),
    KEYS_REWRITTEN: (
        "{key_name} {rewritten}",
        "the keys {rewritten_why}",
        "load {key_name} as text, exactly as the files write it, and check after each load that every {key} of the file is in the table",
    ),
    ACCUMULATED: (
        "{column} was added up over the files",
        "each file's figures added to the table's as increments, where a file holds each {key}'s latest figures",
        "replace each {key}'s row with the file's (an upsert on {key_name}): the files hold each {key}'s latest figures, not increments",
    ),
    NOT_UPDATED: (
        "{column} was not updated: it kept the value of the {key}'s row before",
        "an upsert that updates only some columns (a column left out of its list)",
        "update every column of the contract on each upsert, or replace the whole row",
    ),
    TEXT_REWRITTEN: (
        "{column} {rewritten}",
        "the text {rewritten_why}",
        "load {column} as text, exactly as the files write it",
    ),
}
# What each rewrite of a text (``checks.diagnose._keys``: a key's, or a text column's) did, and how a load does it.
_REWRITE_WORDS = {
    LEADING_ZEROS: ("lost its leading zeros", "read as a number on the way in: an integer column, or a spreadsheet"),
    LOWERCASE: ("was lower-cased", "normalised to lower case on the way in"),
    UPPERCASE: ("was upper-cased", "normalised to upper case on the way in"),
    TRIMMED: ("lost the spaces around it", "trimmed on the way in"),
    OTHER: ("was rewritten", "rewritten on the way in (a format, a prefix or padding applied)"),
}
_UNITS = {100: "hundredths read as whole units", 1000: "thousandths read as whole units", 10: "the decimal point moved one place"}
_DOLLAR_UNITS = {**_UNITS, 100: "cents read as dollars"}


def cause_words(cause: RootCause, words: Words) -> str:
    """A root cause as people say it, with its file and what a load did: "file never loaded: delta3.csv",
    "values changed after loading: delta3.csv, the spend was multiplied by 100"."""
    said = cause_label(cause.kind, words) + (f": {cause.file}" if cause.file else "")
    what = cause.details.get("what")
    return f"{said}{',' if cause.file else ':'} {what}" if what else said


def mechanism_words(mechanism: Mechanism, words: Words | None = None) -> tuple[str, str, str]:
    """What the load did ("the spend was multiplied by 100"), why a load does that, and the fix."""
    w = words or default_words()
    columns = [_column_word(column, w) for column in mechanism.columns] or [""]
    value = mechanism.value
    factor = value if mechanism.name == SCALED else None
    filled = {
        "column": columns[0],
        "other": columns[-1],
        "value": value,
        "key": w.key_word,
        "order": "the file" if mechanism.order == "file" else f"{w.key_word} order",
        "distance": counted(abs(value), "row") if mechanism.name == SHIFTED_KEYS else "",
        "direction": ("below" if value > 0 else "above") if mechanism.name == SHIFTED_KEYS else "",
        "hours": _moved(value, mechanism.columns[0], w) if mechanism.name == TIMEZONE_SHIFT else "",
        "precision": _precision(value) if mechanism.name in (ROUNDED, TRUNCATED) else "",
        "scaled": _scaled(factor) if factor is not None else "",
        "unit": _unit(factor, w) if factor is not None else "",
        "key_name": w.key_name,
        "rewritten": _REWRITE_WORDS[value][0] if mechanism.name in (KEYS_REWRITTEN, TEXT_REWRITTEN) else "",
        "rewritten_why": _REWRITE_WORDS[value][1] if mechanism.name in (KEYS_REWRITTEN, TEXT_REWRITTEN) else "",
    }
    what, why, fix = _MECHANISM_WORDS[mechanism.name]
    return what.format(**filled), why.format(**filled), fix.format(**filled)


def mechanism_sentence(
    mechanism: Mechanism, file: str | None, count: int, dollars: int, changes: list[dict[str, str]], words: Words | None = None
) -> str:
    """A mechanism found in the rows: when which file was loaded, what was done to how many keys, the dollars, examples."""
    w = words or default_words()
    what, why, _ = mechanism_words(mechanism, w)
    moved = _amount_moved(dollars, w, "it")
    by_key: dict[str, list[str]] = {}
    for change in changes:
        by_key.setdefault(change["key"], []).append(
            f"{change['column']} {shown_cell(change['file'])} in the file, {shown_cell(change['platform'])} on the platform"
        )
    shown = [f"{w.key_word} {key}: {', '.join(values)}" for key, values in by_key.items()]
    example = f" For example, {'; '.join(shown)}." if shown else ""
    return (
        f"{_loaded(file)}, {what} for {w.count(count)} ({why}){moved}. Applying this to the file's rows reproduces "
        f"their platform rows exactly.{example}"
    )


def _amount_moved(dollars: int, words: Words, subject: str) -> str:
    """What a change did to the amount (positive ``dollars``: taken off): "; it took $365.39 off the lifetime value"."""
    w = words
    return w.amount_part(f"; {subject} took {w.money(dollars)} off the {w.amount_word}" if dollars > 0 else (
        f"; {subject} added {w.money(-dollars)} to the {w.amount_word}" if dollars else f"; the {w.amount_word} did not change"
    ))


def _loaded(file: str | None) -> str:
    """When a change was made: "When delta3.csv was loaded", or of several files."""
    return f"When {file} was loaded" if file else "When the files were loaded"


def _moved(hours: int, column: str, words: Words) -> str:
    """How far a time shift moved a column: in hours, or in days for a date (whole days only, 24 hours each)."""
    date = words.encoding.contract.column(column).logical_type == "date"
    distance = counted(abs(hours) // 24, "day") if date else counted(abs(hours), "hour")
    return f"{'forward' if hours > 0 else 'back'} by {distance}"


def _column_word(column: str, words: Words) -> str:
    """The amount as people say it ("the spend"); another column by its name."""
    return f"the {words.amount_word}" if column == words.encoding.contract.shape.amount else column


def _scaled(factor: float) -> str:
    if factor == -1:
        return "negated (its sign flipped)"
    if abs(factor) >= 1:
        return f"multiplied by {factor:,}"
    return f"divided by {round(1 / factor):,}"


def _unit(factor: float, words: Words) -> str:
    if factor == -1:
        return "a sign convention other than the file's on the way in (an amount owed read as one paid)"
    whole = round(abs(factor) if abs(factor) >= 1 else abs(1 / factor))
    reason = (_DOLLAR_UNITS if words.currency == "$" else _UNITS).get(whole)
    if reason is None:
        return "a conversion by a constant factor on the way in"
    if abs(factor) < 1:
        reason = " read as ".join(reversed(reason.split(" read as "))) if " read as " in reason else reason
    return reason


def _precision(decimals: int) -> str:
    if decimals > 0:
        return f"{decimals} decimal{'s' if decimals > 1 else ''}" if decimals != 2 else "two decimals"
    return {0: "whole units", -1: "tens", -2: "hundreds", -3: "thousands"}.get(decimals, f"multiples of {10 ** -decimals:,}")


def example_sentence(examples: pd.DataFrame, words: Words | None = None) -> str:
    if examples.empty:
        return ""
    w = words or default_words()
    version, amount = w.version, w.encoding.contract.shape.amount
    row = examples.iloc[0]

    def state(side: str) -> str:
        held = f"{version} {w.version_value(row[side_column(side, version)])}"
        return held + (f", {w.amount_word} {w.money(row[side_column(side, amount)])}" if amount else "")

    platform = state("platform") if pd.notna(row[side_column("platform", version)]) else "no row"
    where = f" from {row['platform_file']}" if pd.notna(row["platform_file"]) and row["platform_file"] else ""  # NaN: no file holds it
    return (
        f" For example, {w.key_word} {w.key(row[w.key_name])} has {platform}{where} on the platform, but its latest "
        f"row is {state('expected')}, in {row[SOURCE_FILE]} row {_integer(row[SOURCE_ROW])}."
    )


def _id_list(examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return ", ".join(w.key(key) for key in examples[w.key_name].head(3))


def _integer(value: Any) -> str:
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value)}"


"""Drafting a contract for a new customer from the delta files it already sent (``checks contract infer``).

Types and bounds are read off the cells; the key, the version and the amount are offered as
candidates with the evidence for each, and every choice a person must confirm is marked ``# CONFIRM``
in the YAML: a draft never decides a role silently.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from checks.contract import DEFAULT_FILES, FileOrder
from checks.errors import BadInputError
from checks.model import written_name_clashes

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ZERO_PADDED = re.compile(r"^[+-]?0\d")
_BOOLEAN = frozenset({"true", "false"})
_FEW_VALUES = 12  # a string column with at most this many distinct values is offered as a fixed set


@dataclass(frozen=True)
class ColumnProfile:
    """What the cells of one column show across every delta file."""

    name: str
    logical_type: str
    nullable: bool
    unique_in_every_file: bool
    decimal: tuple[int, int] | None = None
    minimum: str | None = None
    maximum: str | None = None
    distinct: tuple[str, ...] | None = None  # a string column's few values
    rises_file_by_file: bool = False  # every file's values above every earlier file's
    zero_padded: str | None = None  # a cell of digits with a leading zero ("00086"): text, whatever it looks like


def infer_contract(feed: str | Path, files: str | None = None) -> str:
    """A draft ODCS contract (YAML text, with comments) for the deltas in ``feed``, named by ``files`` (a regular
    expression with a group ``order``); without it, ``deltaN.csv``, else the pattern the folder's CSV names share
    (``guess_files``), marked CONFIRM."""
    directory = Path(feed)
    if not directory.is_dir():
        raise BadInputError("feed folder not found", file=directory)
    guessed = False
    if files is None:
        csvs = [path.name for path in directory.iterdir() if path.is_file() and path.suffix.lower() == ".csv"]
        default = re.compile(DEFAULT_FILES, re.IGNORECASE)
        guess = None if any(default.fullmatch(name) for name in csvs) else guess_files(csvs)
        files, guessed = (DEFAULT_FILES, False) if guess is None else (guess, True)
    pattern = re.compile(files, re.IGNORECASE)
    found = sorted(
        ((FileOrder(match.group("order")), path) for path in directory.iterdir()
         if path.is_file() and (match := pattern.fullmatch(path.name))),
        key=lambda item: (int(item[0].order) if item[0].numeric else 0, item[0].order),
    )
    if not found:
        raise BadInputError(
            f"no delta files matching {files!r} in the feed folder (--files names them: a regular expression with a "
            "group 'order')", file=directory,
        )
    frames = [_read(path) for _, path in found]
    header = list(frames[0].columns)
    for (_, path), frame in zip(found, frames):
        if list(frame.columns) != header:
            raise BadInputError(f"header differs from {found[0][1].name}'s ({', '.join(header)})", file=path)
    profiles = [_profile(name, [frame[name] for frame in frames]) for name in header]
    return _render(profiles, files, [path.name for _, path in found], guessed=guessed)


_DAY = r"\d{4}-\d{2}-\d{2}"


def guess_files(names: Sequence[str]) -> str | None:
    """The pattern a feed's file names share, with the part that orders them as the group ``order``: a date
    (``accounts_2026-01-02.csv``) where every name holds one at the same place, else the one run of digits that
    differs from name to name (``subs-007.csv``; the last run of digits of a single file). None when the names share
    no such form."""
    if not names:
        return None
    dated = {re.sub(_DAY, "\0", name) for name in names}
    if len(dated) == 1 and (form := dated.pop()).count("\0") == 1:
        before, after = form.split("\0")
        return f"{re.escape(before)}(?P<order>{_DAY}){re.escape(after)}"
    parts = [re.split(r"(\d+)", name) for name in names]  # text, digits, text, ..., text
    if len({len(split) for split in parts}) != 1 or len(parts[0]) < 3:
        return None
    texts = {tuple(split[0::2]) for split in parts}
    varying = [at for at in range(1, len(parts[0]), 2) if len({split[at] for split in parts}) > 1]
    if len(texts) != 1 or len(varying) > 1:
        return None
    order = varying[0] if varying else len(parts[0]) - 2  # one name: its last digits
    return "".join(
        "(?P<order>\\d+)" if at == order else re.escape(piece) for at, piece in enumerate(parts[0])
    )


def _read(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise BadInputError(f"cannot read as CSV: {str(error).strip().splitlines()[0]}", file=path) from None
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame


def _profile(name: str, parts: Sequence[pd.Series]) -> ColumnProfile:
    cells = pd.concat(parts, ignore_index=True).astype(str).str.strip()
    filled = cells[cells != ""]
    kind = _type_of(filled)
    padded = filled[filled.str.match(_ZERO_PADDED.pattern)] if kind in ("integer", "number") else filled.iloc[:0]
    if len(padded):  # an identifier: read as a number, "00086" would be written back as 86, another key
        kind = "string"
    unique = all(part[part.astype(str).str.strip() != ""].is_unique for part in parts)
    profile = dict(name=name, logical_type=kind, nullable=len(filled) < len(cells), unique_in_every_file=unique)
    if len(padded):
        profile["zero_padded"] = padded.iloc[0]
    if filled.empty:
        return ColumnProfile(**profile)
    if kind in ("integer", "number"):
        numbers = filled.map(Decimal)
        profile |= {"minimum": str(numbers.min()), "maximum": str(numbers.max())}
        if kind == "number":
            profile["decimal"] = _decimal_shape(filled)
    if kind == "string" and filled.nunique() <= _FEW_VALUES and filled.nunique() < len(filled):
        profile["distinct"] = tuple(sorted(filled.unique()))
    if kind in ("integer", "date", "timestamp"):
        profile["rises_file_by_file"] = _rises(parts, kind)
    return ColumnProfile(**profile)


def _type_of(cells: pd.Series) -> str:
    if cells.empty:
        return "string"
    for kind, pattern in (("integer", _INTEGER), ("number", _DECIMAL), ("date", _DATE), ("timestamp", _TIMESTAMP)):
        if cells.str.fullmatch(pattern.pattern).all():
            return kind
    if cells.str.lower().isin(_BOOLEAN).all():
        return "boolean"
    return "string"


def _decimal_shape(cells: pd.Series) -> tuple[int, int]:
    """The smallest decimal(p, s) that holds every cell exactly."""
    parts = cells.str.lstrip("+-").str.partition(".")
    scale = int(parts[2].str.len().max())
    whole = int(parts[0].str.lstrip("0").str.len().max())
    return max(whole + scale, 1), scale


def _rises(parts: Sequence[pd.Series], kind: str) -> bool:
    """Whether every file's values lie above every earlier file's (a version column's signature)."""
    highest = None
    for part in parts:
        values = part[part.astype(str).str.strip() != ""]
        if values.empty:
            return False
        ordered = values.map(int) if kind == "integer" else values.astype(str)
        if highest is not None and not ordered.min() > highest:
            return False
        highest = ordered.max()
    return len(parts) > 1


def _render(profiles: Sequence[ColumnProfile], files: str, names: Sequence[str], *, guessed: bool = False) -> str:
    import yaml

    keys = [p for p in profiles if p.unique_in_every_file and not p.nullable and p.logical_type in ("integer", "string")]
    versions = [p for p in profiles if p.rises_file_by_file and not p.nullable]
    if not versions:  # one file, or nothing rises: any required integer, date or timestamp could be it
        versions = [p for p in profiles if p.logical_type in ("integer", "date", "timestamp") and not p.nullable]
    amounts = [p for p in profiles if p.logical_type in ("integer", "number") and p not in keys[:1] + versions[:1]]
    key, version = (keys[0] if keys else None), (versions[0] if versions else None)
    amount = next((p for p in amounts if p.decimal is not None), amounts[0] if amounts else None)

    def scalar(value: object) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()

    lines = [
        f"# Draft contract inferred by `checks contract infer` from {len(names)} file(s): {', '.join(names[:5])}"
        + (", ..." if len(names) > 5 else ""),
        "# Review every line marked CONFIRM, then check it with `checks contract lint FILE`.",
        "apiVersion: v3.1.0",
        "kind: DataContract",
        "id: new-feed  # CONFIRM: a name for this feed",
        "name: New feed",
        "version: 0.1.0",
        "status: draft",
        "schema:",
        "  - name: feed_table  # CONFIRM: the table's name (names the suite and the Data Docs asset)",
        "    physicalType: table",
        "    customProperties:",
        f"      - {{property: checks.files, value: {_single_quoted(files)}}}"
        + ("  # CONFIRM: the pattern the files' names share, guessed from them" if guessed else ""),
        "    properties:",
    ]
    for profile in profiles:
        lines += _property_lines(profile, key, version, amount, keys, versions, amounts, scalar)
    return "\n".join(lines) + "\n"


def _property_lines(profile, key, version, amount, keys, versions, amounts, scalar) -> list[str]:
    clash = written_name_clashes([profile.name], key.name if key is not None else "").get(profile.name)
    name = f"      - name: {scalar(profile.name)}" + (
        f"  # CONFIRM: rename it, in the files too: the outputs write it as {clash}, a column of their own" if clash else ""
    )
    padded = (
        f"  # CONFIRM: text, not a number: cells such as {profile.zero_padded} keep their leading zeros"
        if profile.zero_padded is not None else ""
    )
    lines = [name, f"        logicalType: {profile.logical_type}{padded}"]
    if profile.decimal is not None:
        lines.append(f"        physicalType: decimal({profile.decimal[0]},{profile.decimal[1]})"
                     "  # CONFIRM: widen the precision to what the column may hold")
    if profile is key:
        others = [p.name for p in keys if p is not profile]
        lines.append("        primaryKey: true  # CONFIRM: unique and never empty in every file"
                     + (f"; other candidates: {', '.join(others)}" if others else ""))
    lines.append(f"        required: {'false' if profile.nullable else 'true'}"
                 + ("  # empty cells seen" if profile.nullable else ""))
    options = []
    if profile.minimum is not None and Decimal(profile.minimum) >= 0:
        options.append("minimum: 0")
    if options:
        lines.append(f"        logicalTypeOptions: {{{', '.join(options)}}}"
                     f"  # CONFIRM: seen from {profile.minimum} to {profile.maximum}")
    custom = []
    if profile is version:
        why = "rises file by file" if profile.rises_file_by_file else "nothing rises file by file; a guess"
        others = [p.name for p in versions if p is not profile]
        custom.append(("{property: checks.role, value: version}",
                       f"CONFIRM: the largest per key wins ({why})" + (f"; other candidates: {', '.join(others)}" if others else "")))
    if profile is amount:
        others = [p.name for p in amounts if p is not profile]
        custom.append(("{property: checks.role, value: amount}",
                       "CONFIRM: the money column totals and emails speak of"
                       + (f"; other candidates: {', '.join(others)}" if others else "")))
        symbol = next((symbol for symbol in _CURRENCY_SYMBOLS if symbol in profile.name), None)
        if symbol is not None:  # named in the column's name ("montant €"): said so, not in dollars
            custom.append((f"{{property: checks.currency, value: {scalar(symbol)}}}", "CONFIRM: the amount's currency, seen in its name"))
    if custom:
        lines.append("        customProperties:")
        lines += [f"          - {item}  # {why}" for item, why in custom]
    if profile.distinct is not None:
        lines += [
            "        quality:",
            "          - metric: invalidValues  # CONFIRM: the only values seen",
            f"            arguments: {{validValues: {scalar(list(profile.distinct))}}}",
            "            mustBe: 0",
        ]
    return lines


# Currency symbols a column's name may hold; without one the amounts are said in dollars.
_CURRENCY_SYMBOLS = ("€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫", "₦")


def _single_quoted(text: str) -> str:
    """YAML's single-quoted scalar: backslashes stay as they are, which suits a regular expression."""
    return "'" + text.replace("'", "''") + "'"

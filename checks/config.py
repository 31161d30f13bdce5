"""Case files: a small TOML that names a feed, its tables and the finance total, so runs need no long command lines.

Paths in a case file are relative to the file itself. Command-line options override every key.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from checks.errors import BadInputError

DEFAULT_CASE = Path("data/case.toml")
_PATH_KEYS = ("feed", "platform", "customer", "ledger", "contract")
_NAME_KEYS = ("customer_company", "customer_contact", "platform_company", "engineer_name", "sender_name")
_TEXT_KEYS = (*_NAME_KEYS, "eta")
_KEYS = {*_PATH_KEYS, *_TEXT_KEYS, "finance_total"}


@dataclass(frozen=True)
class Names:
    """Who the report and emails name; None keeps the report's own wording."""

    customer_company: str | None = None
    customer_contact: str | None = None
    platform_company: str | None = None
    engineer_name: str | None = None
    sender_name: str | None = None

    def override(self, **values: str | None) -> Names:
        return replace(self, **{key: value for key, value in values.items() if value is not None})


@dataclass(frozen=True)
class Case:
    """Where a run reads from; any field may be None when not given."""

    feed: Path | None = None
    platform: Path | None = None
    customer: Path | None = None
    finance_total: int | Decimal | None = None
    names: Names = Names()
    contract: Path | None = None  # the feed's ODCS contract; None: the first customer's (contracts/user-summary.yaml)
    # When the corrected figures will be live, as the customer's email promises it ("by Friday"); None: no promise.
    eta: str | None = None
    # The landing zone's ledger: when each delta landed and was fetched, and its sha256, for the emails.
    ledger: Path | None = None

    def override(self, **values: object) -> Case:
        """This case with every given (not None) value replacing its own."""
        return replace(self, **{key: value for key, value in values.items() if value is not None})


def load_case(path: str | Path) -> Case:
    """Read a case file; unknown keys and wrong types are bad input."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError("case file not found", file=path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInputError(f"cannot read case file: {error.strerror}", file=path) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, RecursionError) as error:
        # ValueError: an integer past Python's 4,300-digit conversion limit; RecursionError: arrays nested thousands deep.
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise BadInputError(f"not a valid TOML case file: {first_line}", file=path) from error
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise BadInputError(f"unknown key(s) in case file: {', '.join(unknown)}", file=path)
    finance_total = _finance_total(values.get("finance_total"), path)

    def resolve(key: str) -> Path | None:
        value = values.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadInputError(f"{key} must be a path", file=path)
        if "\0" in value:
            raise BadInputError(f"{key} holds a NUL character", file=path)
        if "://" in value:  # a URI (s3a://bucket/prefix): the engine reads it as given
            return Path(value)
        return (path.parent / value).resolve() if not Path(value).is_absolute() else Path(value)

    for key in _TEXT_KEYS:
        if key in values and not isinstance(values[key], str):
            raise BadInputError(f"{key} must be text", file=path)
    return Case(
        feed=resolve("feed"),
        platform=resolve("platform"),
        customer=resolve("customer"),
        finance_total=finance_total,
        eta=values.get("eta"),
        ledger=resolve("ledger"),
        names=Names(**{key: values[key] for key in _NAME_KEYS if key in values}),
        contract=resolve("contract"),
    )


def _finance_total(value: object, path: Path) -> int | Decimal | None:
    """A whole number of dollars, or a decimal amount written as text ("3795795.75": TOML floats are not exact)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_amount(value, "finance_total", file=path)
    raise BadInputError('finance_total must be a whole number, or an exact decimal as text ("1234.56")', file=path)


def parse_amount(text: str, name: str, *, file: Path | None = None) -> int | Decimal:
    """An amount given as text: a whole number as an int, else an exact decimal; anything else is bad input."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        amount = Decimal(text)
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite():
        raise BadInputError(f"{name} must be a number, e.g. 33904525 or 1234.56 (found {text[:40]!r})", file=file)
    return amount

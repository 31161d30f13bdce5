"""How a feed's keys, versions and amounts read in sentences, from its contract: the one place that words them.

A property's ``businessName`` is the word people use for it (the first customer's ``user_id`` is a
"user", its amount "spend"); without one, the column's name is used. Values are shown as
the file wrote them (``checks.encoding`` decodes them); amounts in the contract's currency (``checks.currency``,
dollars by default) with its decimals.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from checks.contract import DEFAULT_CURRENCY
from checks.encoding import Encoding, exact_decimal

# What a root cause's share is of (``checks.diagnose.results.Diagnosis.share_basis``): the net gap, each key's dollars
# off whichever way they moved, or the keys that differ.
SHARE_OF_GAP, SHARE_OF_DOLLARS_OFF, SHARE_OF_KEYS = "gap", "dollars off", "keys"


@dataclass(frozen=True)
class Words:
    """The words and value formats of one feed."""

    encoding: Encoding
    key_word: str  # "user"
    amount_word: str  # "spend"

    @classmethod
    def of(cls, encoding: Encoding) -> Words:
        contract = encoding.contract
        amount = contract.amount
        return cls(
            encoding,
            key_word=contract.key.business_name or contract.key.name,
            amount_word=(amount.business_name or amount.name) if amount else "amount",
        )

    @property
    def keys(self) -> str:
        """The key's word in the plural: "users"."""
        return self.key_word if self.key_word.endswith("s") else f"{self.key_word}s"

    def count(self, number: int) -> str:
        """A number of keys, the word in the singular for one: "1 user", "2,500 users"."""
        return f"{number:,} {self.key_word if number == 1 else self.keys}"

    @property
    def key_name(self) -> str:
        return self.encoding.contract.key.name

    @property
    def version(self) -> str:
        """The version column's name: "batch_id"."""
        return self.encoding.contract.version_column.name

    def key(self, stored: Any) -> str:
        """One key as the file wrote it."""
        return self._text(self.key_name, stored)

    def version_value(self, stored: Any) -> str:
        if stored is None or (isinstance(stored, float) and math.isnan(stored)):
            return "?"
        return self._text(self.version, stored)

    def value(self, column: str, stored: Any) -> str:
        return self._text(column, stored)

    def money(self, stored: Any) -> str:
        """An amount (or a gap of amounts) in its computing form in the contract's currency: ``$1,234``, ``-$12.50``,
        ``€1,234.50``, ``EUR 12.50``."""
        amount = self.encoding.contract.amount
        scale = amount.decimal[1] if amount is not None and amount.decimal else 0
        value = exact_decimal(stored, amount)
        text = f"{self.currency_prefix}{abs(value):,.{scale}f}"
        return f"-{text}" if value < 0 else text

    @property
    def currency(self) -> str:
        """The amount's currency as the contract says it (``checks.currency``), else the first customer's dollar."""
        amount = self.encoding.contract.amount
        return amount.currency if amount is not None and amount.currency else DEFAULT_CURRENCY

    @property
    def currency_prefix(self) -> str:
        """What stands before an amount's digits: a symbol ("$", "€") as it is, a code ("EUR ") with a space."""
        return f"{self.currency} " if self.currency[-1].isalpha() else self.currency

    @property
    def money_word(self) -> str:
        """What amounts are, in a label: "dollars" in dollars, else "amounts"."""
        return "dollars" if self.currency == "$" else "amounts"

    # -- dollars said only where the feed has an amount: the one rule for every text people read -----------

    @property
    def has_amount(self) -> bool:
        """Whether the contract declares an amount. Without one every figure in dollars is 0 and says nothing:
        what people read counts keys only, and a cause's share is of the keys that differ (``Engine.share``)."""
        return self.encoding.contract.amount is not None

    def amount_part(self, text: str) -> str:
        """``text`` (a part of a sentence about dollars) where the feed has an amount; nothing where it has none."""
        return text if self.has_amount else ""

    def money_part(self, template: str, stored: Any) -> str:
        """``template`` with ``stored`` as dollars in its ``{}`` (", {} in all"), or nothing without an amount."""
        return self.amount_part(template.format(self.money(stored)))

    def keys_and_money(self, number: int, stored: Any) -> str:
        """A number of keys and their dollars, "23 users, $1,234"; "23 members" without an amount."""
        return self.count(number) + self.money_part(", {}", stored)

    def share(self, share: float, *, basis: str = SHARE_OF_GAP) -> str:
        """A cause's share, of what ``Engine.share`` divides by (``Diagnosis.share_basis``): "95.8% of the gap", "72.1% of
        the dollars off" (some keys' dollars up, others' down), or "40.0% of the users that differ"."""
        return f"{share:.1%} of the {self._share_of(basis)}"

    def share_heading(self, *, basis: str = SHARE_OF_GAP) -> str:
        return f"share of the {self._share_of(basis)}"

    def _share_of(self, basis: str) -> str:
        if not self.has_amount or basis == SHARE_OF_KEYS:
            return f"{self.keys} that differ"
        return f"{self.money_word} off" if basis == SHARE_OF_DOLLARS_OFF else "gap"

    @property
    def gap_heading(self) -> str | None:
        """The heading of a column of gaps in dollars, "spend gap"; None without an amount: no such column."""
        return f"{self.amount_word} gap" if self.has_amount else None

    def plain_amount(self, stored: Any) -> int | str:
        """An amount for JSON: an int for integer amounts, the exact decimal as text for decimal ones."""
        amount = self.encoding.contract.amount
        if amount is None or not amount.decimal:
            return int(stored)
        return format(exact_decimal(stored, amount), "f")

    def plain_amounts(self, stored: np.ndarray) -> Any:
        """``plain_amount`` of a whole column (millions of users at scale): int64 for integer amounts, else one
        Arrow-backed text column rendered by the amount's codec, without a ``Decimal`` per value."""
        amount = self.encoding.contract.amount
        counts = np.asarray(stored).astype("int64")
        if amount is None or not amount.decimal:
            return counts
        return self.encoding.codecs[amount.name].render_column(counts)

    def _text(self, column: str, stored: Any) -> str:
        return str(self.encoding.written(column, [int(stored)])[0])


@functools.cache
def default_words() -> Words:
    """The first customer's words (library calls that predate contracts)."""
    from checks.encoding import default_encoding

    return Words.of(default_encoding())


def counted(number: int, noun: str) -> str:
    """A number of things, the noun in the singular for one: "1 row", "2,500 rows"."""
    return f"{number:,} {noun}" + ("" if abs(number) == 1 else "s")


# Verbs whose singular is not the plural with an "s" ("1 member has", "2 members have").
_SINGULAR_VERBS = {"are": "is", "have": "has", "were": "was", "do": "does"}


def agreeing(number: int, verb: str) -> str:
    """``verb``, given as it goes with many, as it goes with ``number`` things: "hold" for 2, "holds" for 1."""
    if abs(number) != 1:
        return verb
    if verb in _SINGULAR_VERBS:
        return _SINGULAR_VERBS[verb]
    return verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "z")) else "s")


def shown_cell(text: str) -> str:
    """A cell's text as people read it in a sentence or a table: an empty one said so, not left blank."""
    return text if text else "(empty)"


def capitalised(text: str) -> str:
    """``text`` with its first letter a capital and the rest as it is: "Client IDs", never "Client ids"."""
    return text[:1].upper() + text[1:]

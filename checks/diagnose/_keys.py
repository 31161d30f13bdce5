"""Keys a load rewrote: a text key the feed sent that the table misses, whose row the table holds under the key
rewritten one usual way (leading zeros dropped, letter case changed, spaces trimmed).

Tried on the users left over as missing (a row expected, none on the platform) and unexpected (a row on the platform
the feed never sent): a rewrite is named where it maps a missing key onto an unexpected one whose platform row is the
missing key's simulated row in every compared column. Nothing is credited from the keys alone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Each rewrite a load makes of a key read as text, tried in this order, with what it does to a Series of keys.
LEADING_ZEROS, LOWERCASE, UPPERCASE, TRIMMED = "leading_zeros", "lowercase", "uppercase", "trimmed"
REWRITES: dict[str, Callable[[pd.Series], pd.Series]] = {
    # A key read as a number: "00086" becomes "86", "000" becomes "0".
    LEADING_ZEROS: lambda keys: keys.str.replace(r"^0+(?=\d)", "", regex=True),
    LOWERCASE: lambda keys: keys.str.lower(),
    UPPERCASE: lambda keys: keys.str.upper(),
    TRIMMED: lambda keys: keys.str.strip(),
}
EXAMPLES = 3  # rewritten keys shown in a cause's changes


@dataclass(frozen=True)
class Rewrite:
    """A rewrite found: its name, the missing users (positions, ascending) and the unexpected user each one became."""

    name: str
    sent: np.ndarray
    held: np.ndarray


def rewrites(
    sent_keys: pd.Series,
    sent: np.ndarray,
    held_keys: pd.Series,
    held: np.ndarray,
    same_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> list[Rewrite]:
    """The rewrites that map missing keys (``sent_keys``, the text of users ``sent``) onto unexpected ones (``held_keys``
    of users ``held``) whose rows agree (``same_rows(sent users, held users)``: a mask), each user taken once, by the
    first rewrite that explains it."""
    found = []
    sent_keys, held_keys = sent_keys.reset_index(drop=True), held_keys.reset_index(drop=True)
    open_sent, open_held = np.ones(len(sent), dtype=bool), np.ones(len(held), dtype=bool)
    for name, rewrite in REWRITES.items():
        lookup = pd.Index(held_keys[open_held])
        if not lookup.is_unique or not open_sent.any():
            continue
        candidates = np.flatnonzero(open_sent)
        rewritten = rewrite(sent_keys[candidates])
        at = lookup.get_indexer(rewritten)
        mapped = (at >= 0) & (rewritten.to_numpy() != sent_keys[candidates].to_numpy())
        partners = np.flatnonzero(open_held)[at[mapped]]
        candidates = candidates[mapped]
        agree = same_rows(sent[candidates], held[partners]) if len(candidates) else np.zeros(0, dtype=bool)
        if not agree.any():
            continue
        open_sent[candidates[agree]] = False
        open_held[partners[agree]] = False
        found.append(Rewrite(name, sent[candidates[agree]], held[partners[agree]]))
    return found

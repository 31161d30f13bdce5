"""Keys a load rewrote: a text key the feed sent that the table misses, whose row the table holds under the key
rewritten one usual way (leading zeros dropped, letter case changed, spaces trimmed), or any other way (a digit
inserted, a prefix: ``OTHER``).

Tried on the users left over as missing (a row expected, none on the platform) and unexpected (a row on the platform
the feed never sent): a rewrite is named where it maps a missing key onto an unexpected one whose platform row is the
missing key's simulated row in every compared column. Nothing is credited from the keys alone. A rewrite of no usual
kind is found from the rows instead: a missing key's row and an unexpected key's, each the only one of its side with
those values, paired, and named where at least ``MIN_PAIRS`` pairs are.

A usual rewrite so found is then also taken to have made the keys it maps onto an unexpected key whose row differs (the
load rewrote every key, and some rows were not the latest: a file never loaded): those keys' rows are moved back under
the keys as sent (``Rekeying``) and searched again, where the older rows tell what else went wrong.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Each rewrite a load makes of a key read as text, tried in this order, with what it does to a Series of keys.
LEADING_ZEROS, LOWERCASE, UPPERCASE, TRIMMED, OTHER = "leading_zeros", "lowercase", "uppercase", "trimmed", "other"
REWRITES: dict[str, Callable[[pd.Series], pd.Series]] = {
    # A key read as a number: "00086" becomes "86", "000" becomes "0".
    LEADING_ZEROS: lambda keys: keys.str.replace(r"^0+(?=\d)", "", regex=True),
    LOWERCASE: lambda keys: keys.str.lower(),
    UPPERCASE: lambda keys: keys.str.upper(),
    TRIMMED: lambda keys: keys.str.strip(),
}
EXAMPLES = 3  # rewritten keys shown in a cause's changes
MIN_PAIRS = 3  # keys paired by their rows alone: a couple of equal rows under two keys may be a coincidence
FILE_SAMPLE = 2_000  # a file's rows a rewrite of its keys alone is tried on first (``file_rewrite``)


@dataclass(frozen=True)
class Rewrite:
    """A rewrite found: its name, the missing users (positions) and the unexpected user each one became; the last
    ``changed`` of them hold a row other than their expected one (paired by their keys alone)."""

    name: str
    sent: np.ndarray
    held: np.ndarray
    changed: int = 0


@dataclass(frozen=True)
class Rekeying:
    """Rewrites found where some rewritten keys' rows changed too, their users as key ids (``Rewrite.sent`` and
    ``held``: the keys as the feed sent them and as the platform holds them), and how many keys differed where they
    were found (each cause's share of the keys that differ counts all of them, not only those left after the move)."""

    rewrites: tuple[Rewrite, ...]
    discrepant: int

    def held_as_sent(self, keys: np.ndarray) -> np.ndarray:
        """The platform's key ids with each rewritten one put back as the feed sent it (a new array)."""
        sent = np.concatenate([found.sent for found in self.rewrites])
        at = pd.Index(np.concatenate([found.held for found in self.rewrites])).get_indexer(keys)
        return np.where(at >= 0, sent[np.maximum(at, 0)], keys)


def rewrites(
    sent_keys: pd.Series,
    sent: np.ndarray,
    held_keys: pd.Series,
    held: np.ndarray,
    same_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
    digests: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[Rewrite]:
    """The rewrites that map missing keys (``sent_keys``, the text of users ``sent``) onto unexpected ones (``held_keys``
    of users ``held``) whose rows agree (``same_rows(sent users, held users)``: a mask), each user taken once, by the
    first rewrite that explains it; then, given ``digests`` (a hash of each sent user's row and of each held user's,
    the key left out), the users left paired by their rows (``OTHER``)."""
    found = []
    sent_keys, held_keys = sent_keys.reset_index(drop=True), held_keys.reset_index(drop=True)
    open_sent, open_held = np.ones(len(sent), dtype=bool), np.ones(len(held), dtype=bool)
    for name, rewrite in REWRITES.items():
        candidates, partners = _mapped(rewrite, sent_keys, held_keys, open_sent, open_held)
        agree = same_rows(sent[candidates], held[partners]) if len(candidates) else np.zeros(0, dtype=bool)
        if not agree.any():
            continue
        open_sent[candidates[agree]] = False
        open_held[partners[agree]] = False
        found.append(Rewrite(name, sent[candidates[agree]], held[partners[agree]]))
    if digests is not None and open_sent.any() and open_held.any():
        other = _paired_by_rows(sent[open_sent], held[open_held], same_rows, digests)
        if other is not None:
            open_sent[np.isin(sent, other.sent)] = open_held[np.isin(held, other.held)] = False
            found.append(other)
    return [_with_changed_rows(rewrite, sent_keys, sent, held_keys, held, open_sent, open_held) for rewrite in found]


def file_rewrite(
    keys_at: Callable[[np.ndarray | None], pd.Series], rows: int, held_keys: pd.Series,
    same_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The usual rewrite one file's load made of its keys: of the file's ``rows`` (``keys_at(rows)``: their keys, None
    for all) every one whose key it changes is on the platform under the rewritten key, one of ``held_keys`` (keys the
    feed never sent), with that row's values (``same_rows(file rows, held positions)``: a mask), and at least
    ``MIN_PAIRS`` are. Its name, those file rows and the held keys' positions; None where no rewrite does. All of
    them, not most: the other files' rows kept their keys, so a rewrite of this file alone changed every key it could.

    A rewrite is tried on a sample of ``FILE_SAMPLE`` rows first, and on the whole file only where some sampled key
    it changes is held so: a few keys the feed never sent beside a 10 M-row file cost no pass over its keys (a
    rewrite that changed fewer than about one key in a thousand of a larger file goes unnamed)."""
    lookup = pd.Index(held_keys.reset_index(drop=True))
    if not lookup.is_unique:
        return None
    whole = rows <= FILE_SAMPLE
    sample = None if whole else np.random.default_rng(0).choice(rows, FILE_SAMPLE, replace=False)
    sampled = keys_at(sample).reset_index(drop=True)
    keys = None
    for name, rewrite in REWRITES.items():
        seen = rewrite(sampled)
        changed = seen.to_numpy() != sampled.to_numpy()
        if not changed.any() or (lookup.get_indexer(seen[changed]) < 0).any():
            continue
        if keys is None:  # read once, for the first rewrite the sample holds
            keys = sampled if whole else keys_at(None).reset_index(drop=True)
        rewritten = rewrite(keys)
        changed_rows = np.flatnonzero(rewritten.to_numpy() != keys.to_numpy())
        if len(changed_rows) < MIN_PAIRS:
            continue
        at = lookup.get_indexer(rewritten.iloc[changed_rows])
        if (at >= 0).all() and len(np.unique(at)) == len(at) and same_rows(changed_rows, at).all():
            return name, changed_rows, at
    return None


def _mapped(
    rewrite: Callable[[pd.Series], pd.Series], sent_keys: pd.Series, held_keys: pd.Series, open_sent: np.ndarray,
    open_held: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The open sent keys (positions) that ``rewrite`` changes into an open held key, and that key's position; none
    where two open held keys are equal (which one a key became is then unknown)."""
    lookup = pd.Index(held_keys[open_held])
    if not lookup.is_unique or not open_sent.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    candidates = np.flatnonzero(open_sent)
    rewritten = rewrite(sent_keys[candidates])
    at = lookup.get_indexer(rewritten)
    mapped = (at >= 0) & (rewritten.to_numpy() != sent_keys[candidates].to_numpy())
    return candidates[mapped], np.flatnonzero(open_held)[at[mapped]]


def _with_changed_rows(
    found: Rewrite, sent_keys: pd.Series, sent: np.ndarray, held_keys: pd.Series, held: np.ndarray,
    open_sent: np.ndarray, open_held: np.ndarray,
) -> Rewrite:
    """A usual rewrite found with the open keys it maps onto an open held key whose row differs (each held key
    becoming one sent key only), which it closes: the load rewrote those keys too, and something else their rows."""
    if found.name not in REWRITES:
        return found
    candidates, partners = _mapped(REWRITES[found.name], sent_keys, held_keys, open_sent, open_held)
    once = _only_once(partners) if len(partners) else np.zeros(0, dtype=bool)
    candidates, partners = candidates[once], partners[once]
    if not len(candidates):
        return found
    open_sent[candidates] = open_held[partners] = False
    return Rewrite(
        found.name, np.concatenate([found.sent, sent[candidates]]), np.concatenate([found.held, held[partners]]),
        len(candidates),
    )


def _paired_by_rows(
    sent: np.ndarray, held: np.ndarray, same_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
    digests: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> Rewrite | None:
    """Missing and unexpected users whose rows are equal, each row the only one of its side with its values."""
    sent_digests, held_digests = digests(sent, held)
    sent_once, held_once = _only_once(sent_digests), _only_once(held_digests)
    at = pd.Index(held_digests[held_once]).get_indexer(sent_digests[sent_once])
    candidates, partners = sent[sent_once][at >= 0], held[held_once][at[at >= 0]]
    agree = same_rows(candidates, partners) if len(candidates) else np.zeros(0, dtype=bool)
    if int(agree.sum()) < MIN_PAIRS:
        return None
    return Rewrite(OTHER, candidates[agree], partners[agree])


def _only_once(values: np.ndarray) -> np.ndarray:
    """A mask of the values that appear once."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return counts[inverse] == 1

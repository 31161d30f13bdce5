"""The feed check as one call: discover, read, validate each delta, quarantine, check across files, deduplicate."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from checks.crossfeed import check_feed
from checks.dedup import deduplicate
from checks.encoding import Encoding, default_encoding
from checks.feed import discover_deltas
from checks.model import DeltaFile
from checks.results import DeltaValidation, FeedCheck, passed_deltas
from checks.validate import read_and_validate


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None, encoding: Encoding | None = None
) -> FeedCheck:
    """Check every delta in ``directory`` against the contract (``encoding``'s; default: the first customer's);
    files that fail are quarantined and never deduplicated."""
    encoding = encoding or default_encoding()
    validations = []
    for delta_file in discover_deltas(directory, encoding.contract):
        if on_file is not None:
            on_file(delta_file)
        validations.append(read_and_validate(delta_file, encoding))
    return check_validations(validations, encoding)


def check_validations(validations: Sequence[DeltaValidation], encoding: Encoding | None = None) -> FeedCheck:
    """Cross-file checks and dedup over already validated deltas (feed order)."""
    encoding = encoding or default_encoding()
    deltas = passed_deltas(validations)
    return FeedCheck.assemble(validations, check_feed(deltas, encoding), deduplicate(deltas, encoding=encoding), encoding)

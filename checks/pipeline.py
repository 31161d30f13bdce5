"""The feed check as one call: discover, read, validate each delta, quarantine, check across files, deduplicate."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from checks.crossfeed import check_feed
from checks.dedup import deduplicate
from checks.feed import discover_deltas
from checks.model import DeltaFile
from checks.results import DeltaValidation, FeedCheck, passed_deltas
from checks.validate import read_and_validate


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None
) -> FeedCheck:
    """Check every delta in ``directory``; files that fail are quarantined and never deduplicated."""
    validations = []
    for delta_file in discover_deltas(directory):
        if on_file is not None:
            on_file(delta_file)
        validations.append(read_and_validate(delta_file))
    return check_validations(validations)


def check_validations(validations: Sequence[DeltaValidation]) -> FeedCheck:
    """Cross-file checks and dedup over already validated deltas (feed order)."""
    deltas = passed_deltas(validations)
    return FeedCheck.assemble(validations, check_feed(deltas), deduplicate(deltas))

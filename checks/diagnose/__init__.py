"""Diagnosing a discrepancy: which explicit faults, simulated on the feed, reproduce the platform's table.

Each hypothesis (a file never ingested, a file cut short, the wrong dedup order, no dedup) is a
change to how the platform would have built its table from the feed. We simulate it, compare the
result with the platform row by row, and keep greedily the change that explains the most dollars
without breaking users that already agreed. What no simulation reproduces is then sorted into
dropped users, unexpected users, duplicate rows and values changed in transit, or left unexplained.
Nothing here looks at file names or at any known case: every answer comes from the rows.

At 10 M users everything is arrays over one dense user index, and the feed stays in the deltas' own
frames: a delta holds each user once, so a simulation is one gather and scatter per row and file.
The first table is the deduplicated one; a file left out or cut short changes only the users whose
pick it holds, who fall back to their runner-up row, computed only for users whose platform row the
feed holds elsewhere (the others cannot come to agree). While every user agrees, nothing is tried.
``tests/reference`` holds the earlier pandas version; the tests hold both to the same answers.

Modules: ``results`` (the kinds, ``RootCause``, ``Diagnosis``), ``diagnosis`` (``diagnose``: the reconciliation,
then the attribution), ``_scan`` (the simulated tables and the expected rows), ``_engine`` (the hypotheses and
the greedy attribution), ``sentences`` (the evidence in the feed's words).
"""
from checks.diagnose.diagnosis import diagnose
from checks.diagnose.results import (
    CAUSE_WORDS,
    DUPLICATE_ROWS,
    EXAMPLES_PER_CAUSE,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    KINDS,
    MISSING_USERS,
    QUARANTINED_FILE_LOADED,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
    WRONG_DEDUP_ORDER,
    Diagnosis,
    RootCause,
    cause_label,
)

__all__ = [
    "CAUSE_WORDS",
    "cause_label",
    "DUPLICATE_ROWS",
    "EXAMPLES_PER_CAUSE",
    "FILE_NOT_INGESTED",
    "FILE_PARTIALLY_INGESTED",
    "KINDS",
    "MISSING_USERS",
    "QUARANTINED_FILE_LOADED",
    "UNEXPECTED_USERS",
    "VALUE_DRIFT",
    "WRONG_DEDUP_ORDER",
    "Diagnosis",
    "RootCause",
    "diagnose",
]

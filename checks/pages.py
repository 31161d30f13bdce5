"""Plain memory pages for NumPy's large arrays, where the kernel would stall to find huge ones.

NumPy asks for transparent huge pages on large arrays; with the kernel's defrag setting "madvise"
a fresh array waits for synchronous compaction when none is free (numpy/numpy#31590). At 10 M users
on the 2-core machine that was 5.1 s of kernel time in an 8.9 s diagnosis (2.3 s with plain pages),
and 0.7 s of a 2.3 s dedup.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def plain_pages() -> Iterator[None]:
    """NumPy's huge-page requests off meanwhile, where they stall; as they were afterwards (a decorator too).

    The switch is NumPy's private ``_set_madvise_hugepage``: where a NumPy release drops it, nothing changes.
    """
    toggle = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if toggle is None or not defrag_stalls():
        yield
        return
    previous = toggle(False)
    try:
        yield
    finally:
        toggle(previous)


def defrag_stalls() -> bool:
    """Whether the kernel compacts memory synchronously for a huge page asked for with madvise."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/defrag") as setting:
            chosen = setting.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return False
    return chosen in ("madvise", "defer+madvise")

"""Writing outputs atomically: a temp file in the target folder, fsynced, then renamed over the target.

A crash leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    # mkstemp creates 0600; give the output the permissions a plain open() would.
    os.chmod(temporary_path, 0o666 & ~_umask())
    try:
        yield temporary_path
        with open(temporary_path, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_frame(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write a frame as CSV or Parquet, chosen by the file suffix."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if path.suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        elif path.suffix == ".csv":
            neutralise_formulas(frame).to_csv(temporary, index=False, lineterminator="\n")
        else:
            raise ValueError(f"unsupported output format: {path.suffix}")
    return path


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``).

    Only text columns change; numbers stay numbers, so ``-5`` in an integer column is untouched.
    """
    text_columns = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if not text_columns:
        return frame
    safe = frame.copy()
    for column in text_columns:
        cells = safe[column]
        risky = cells.astype(str).str.startswith(_FORMULA_PREFIXES) & cells.notna()
        safe[column] = cells.astype(object).where(~risky, "'" + cells.astype(str))
    return safe

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
            _write_csv(neutralise_formulas(frame), temporary)
        else:
            raise ValueError(f"unsupported output format: {path.suffix}")
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV through Arrow (about 6x faster than pandas on 10 M rows), unquoted like pandas writes it.

    Arrow quotes every header and string unless told not to, and refuses unquoted cells holding a
    comma or a quote; those rare frames go through pandas, which quotes only where needed.
    """
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with open(path, "wb") as sink:
            sink.write((",".join(map(str, frame.columns)) + "\n").encode("utf-8"))
            arrow_csv.write_csv(
                table, sink, write_options=arrow_csv.WriteOptions(include_header=False, quoting_style="none")
            )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        frame.to_csv(path, index=False, lineterminator="\n")


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``).

    Only text columns change; numbers stay numbers, so ``-5`` in an integer column is untouched.
    """
    text_columns = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if not text_columns:
        return frame
    safe = frame.copy(deep=False)
    for column in text_columns:
        cells = safe[column]
        if isinstance(cells.dtype, pd.CategoricalDtype):
            # Lineage columns are categorical at scale: fix the few categories, not the 10 M cells.
            categories = cells.cat.categories.astype(str)
            risky = categories.str.startswith(_FORMULA_PREFIXES)
            if risky.any():
                safe[column] = cells.cat.rename_categories(categories.where(~risky, "'" + categories))
            continue
        risky = cells.astype(str).str.startswith(_FORMULA_PREFIXES) & cells.notna()
        if risky.any():
            safe[column] = cells.astype(object).where(~risky, "'" + cells.astype(str))
    return safe

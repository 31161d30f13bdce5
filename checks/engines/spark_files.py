"""Files the Spark engine reads through Hadoop's FileSystem API (a feed folder or a table at any URI Spark reads), and
the outputs it writes as single files.

An ``s3a://bucket/feed``, ``hdfs://namenode/feed`` or ``file:///data/feed`` is listed, its headers
read and, for the pandas path's exact messages, a file copied to a local folder, all through the
Hadoop connector that Spark's own reads use. Plain local paths keep the standard library. The
FileSystem API is the same for every scheme, so the tests run this on ``file://`` URIs; an
``s3a://`` feed needs only the S3A connector on Spark's classpath (``checks.engines.spark_s3a``).

An output (``write_csv``, ``write_parquet``) is one part file that Spark writes into a temporary folder beside the
target, then renamed into place by ``checks.writers.atomic_path``: a failure leaves the old file, or none, and no
temporary folder. The executors write to that local folder: on a cluster of several machines it must be shared.

An output folder at a URI (``--out s3a://bucket/prefix``, ``output_folder``) has a local staging folder standing for
it: an output Spark writes there goes to the URI instead, its part file written by the executors beside the target
and renamed into place through Hadoop (on S3 a server-side copy, whole or not at all, then a delete); the driver's
small files (summary, report, emails, charts, spark.log) are written in the staging folder as usual and copied to the
URI through the same FileSystem API when the command ends without an error. One filesystem layer, no S3 client of
its own: the S3A connector's credentials, endpoint and settings serve reads and writes alike.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from checks.contract import Contract
from checks.engines import _frames, spark_s3a
from checks.errors import BadInputError, ChecksError
from checks.engines.spark_session import session
from checks.feed import is_uri, location, order_deltas
from checks.model import DeltaFile
from checks.writers import FORMULA_PREFIXES, atomic_path, written_elsewhere

# ``checks.writers``' CSV of integers and plain text: a header, quotes only where needed (doubled inside), nothing for
# an empty or missing cell, cells as they are (Spark's writer trims them by default), ``\n`` after every line.
_CSV_OPTIONS = {
    "header": "true", "quote": '"', "escape": '"', "emptyValue": "", "nullValue": "",
    "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false", "lineSep": "\n", "encoding": "UTF-8",
}


# What S3A raises for a bucket that does not exist (Hadoop 3.3 and later).
_NO_BUCKET = "org.apache.hadoop.fs.s3a.UnknownStoreException"
# Output folders at a URI while a command writes (``output_folder``): each local staging folder and its URI.
_STAGED: dict[Path, str] = {}


def discover_deltas(directory: str | Path, contract: Contract | None = None) -> list[DeltaFile]:
    """``checks.feed.discover_deltas`` of a folder at a URI, listed by Hadoop (the files the ``contract`` names)."""
    filesystem, folder = _filesystem(directory)
    where = location(directory)
    with _hadoop_errors("cannot list the feed folder", where):
        if not filesystem.exists(folder):
            raise BadInputError("feed folder not found", file=where)
        if not filesystem.getFileStatus(folder).isDirectory():
            raise BadInputError("feed must be a folder of delta CSV files", file=where)
        names = [status.getPath().getName() for status in filesystem.listStatus(folder) if status.isFile()]
    return order_deltas(where, [Path(f"{where.rstrip('/')}/{name}") for name in names], contract)


def read_header(path: str | Path, columns: tuple[str, ...] = _frames.COLUMNS) -> _frames.Header | None:
    """``checks.engines._frames.read_header`` of a local path or a URI (None: let the pandas path say why); ``columns``
    the contract's."""
    if not is_uri(path):
        return _frames.read_header(Path(path), columns)
    filesystem, file = _filesystem(path)
    try:
        length = min(_frames.HEADER_BYTES, filesystem.getFileStatus(file).getLen())
        stream = filesystem.open(file)
        try:
            start = _jvm().org.apache.commons.io.IOUtils.toByteArray(stream, length)
        finally:
            stream.close()
    except Exception:  # noqa: BLE001 - Py4J wraps every JVM error; the pandas path reports it exactly
        return None
    return _frames.header_of(bytes(start), columns)


@contextmanager
def readable(path: str | Path) -> Iterator[Path]:
    """A local path to read ``path`` with the standard library: itself, or a copy of the file at a URI.

    An error naming the copy names the URI instead.
    """
    if not is_uri(path):
        yield Path(path)
        return
    filesystem, file = _filesystem(path)
    where = location(path)
    with tempfile.TemporaryDirectory(prefix="checks-spark-") as folder:
        local = Path(folder) / Path(where).name
        with _hadoop_errors("cannot read", where):
            if not filesystem.exists(file):
                raise BadInputError("file not found", file=where)
            # The raw local file system writes no .crc file beside the copy.
            filesystem.copyToLocalFile(False, file, _jvm().org.apache.hadoop.fs.Path(local.as_uri()), True)
        try:
            yield local
        except ChecksError as error:
            if error.file == str(local):
                error.file = where
            raise


def _jvm() -> Any:
    return session().sparkContext._jvm


def _filesystem(path: str | Path) -> tuple[Any, Any]:
    """Hadoop's FileSystem for ``path``'s scheme, configured as Spark's reads are, and the path itself."""
    context = session().sparkContext
    hadoop_path = context._jvm.org.apache.hadoop.fs.Path(location(path))
    with _hadoop_errors("cannot open", location(path)):
        return hadoop_path.getFileSystem(context._jsc.hadoopConfiguration()), hadoop_path


@contextmanager
def _hadoop_errors(doing: str, where: str) -> Iterator[None]:
    """A JVM error as one line naming the path (its first line: a Java stack trace says nothing more to a user)."""
    from py4j.protocol import Py4JError, Py4JJavaError

    try:
        yield
    except Py4JJavaError as error:
        cause = str(error.java_exception).splitlines()[0] if error.java_exception is not None else "a JVM error"
        if cause.startswith(_NO_BUCKET):
            cause = "no such bucket"
        raise BadInputError(f"{doing}: {cause}", file=where) from error
    except Py4JError as error:
        raise BadInputError(f"{doing}: {str(error).splitlines()[0]}", file=where) from error


def write_csv(frame: Any, path: Path) -> Path:
    """A Spark frame of integer and plain text columns as one CSV file at ``path``, in the frame's order, byte for byte
    as ``checks.writers`` writes it (text that could run as a spreadsheet formula is not neutralised: the caller's
    text never starts so)."""
    return _write_one_file(frame, path, "csv", _CSV_OPTIONS)


def safe_text(text: Any) -> Any:
    """A text column as ``checks.writers`` writes it in a CSV: a cell that could run as a spreadsheet formula after
    ``'`` (the writers' own ``FORMULA_PREFIXES``: the files must match byte for byte)."""
    from pyspark.sql import functions as F

    risky = F.substring(text, 1, 1).isin(*FORMULA_PREFIXES)
    return F.when(risky, F.concat(F.lit("'"), text)).otherwise(text)


def write_parquet(frame: Any, path: Path) -> Path:
    """A Spark frame as one Parquet file at ``path`` (snappy), read back by pandas as ``checks.writers``' file."""
    return _write_one_file(frame, path, "parquet", {"compression": "snappy"})


def _write_one_file(frame: Any, path: Path, kind: str, options: dict[str, str]) -> Path:
    remote = _remote(path)
    if remote is not None:
        _write_one_remote_file(frame, remote, kind, options)
        return Path(path)
    with atomic_path(path) as temporary:
        folder = temporary.with_name(temporary.name + ".spark")
        try:
            # One partition, taken in the frame's order (a sorted frame's ranges one after another).
            frame.coalesce(1).write.mode("overwrite").format(kind).options(**options).save(folder.as_uri())
            parts = sorted(folder.glob("part-*"))
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} part files for {path.name}, not one")
            shutil.copymode(temporary, parts[0])  # the permissions a plain open() gives
            os.replace(parts[0], temporary)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return Path(path)


def _write_one_remote_file(frame: Any, where: str, kind: str, options: dict[str, str]) -> None:
    """``_write_one_file`` at a URI: the part file written into a hidden folder beside ``where``, then renamed into
    place; a failure leaves the old file, or none, and no folder (on S3 an object is put or copied whole)."""
    filesystem, target = _filesystem(where)
    folder = f"{where.rsplit('/', 1)[0]}/.{target.getName()}.{uuid.uuid4().hex}.spark"
    hadoop_folder = _jvm().org.apache.hadoop.fs.Path(folder)
    try:
        with _hadoop_errors("cannot write", where):
            frame.coalesce(1).write.mode("overwrite").format(kind).options(**options).save(folder)
            parts = [status.getPath() for status in filesystem.listStatus(hadoop_folder) if status.getPath().getName().startswith("part-")]
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} part files for {where}, not one")
            filesystem.delete(target, False)  # Hadoop's rename does not replace a file
            if not filesystem.rename(parts[0], target):
                raise BadInputError("cannot write: the file could not be renamed into place", file=where)
    finally:
        with contextlib.suppress(Exception):  # the write's own error, if any, is the one to report
            filesystem.delete(hadoop_folder, True)


@contextmanager
def output_folder(target: str | Path, staging: Path) -> Iterator[None]:
    """Let the local folder ``staging`` stand for the output folder at the URI ``target`` while a command writes.

    ``write_csv`` and ``write_parquet`` of a file in ``staging`` write it at ``target``, from Spark's executors; any other
    file written in ``staging`` is copied to ``target`` on leaving without an error, one object a file, put whole
    (``checks.writers.read_output`` reads the former back). A missing connector or bucket, or a file at ``target``,
    is refused on entering, in one line.
    """
    where = location(target).rstrip("/")
    if spark_s3a.is_s3a(where):
        spark_s3a.require_connector(session(), where, writing=True)
    filesystem, folder = _filesystem(where)
    with _hadoop_errors("cannot write the output folder", where):
        if filesystem.exists(folder) and not filesystem.getFileStatus(folder).isDirectory():
            raise BadInputError("the output folder is a file", file=where)
    staging = Path(staging)
    _STAGED[staging] = where
    try:
        with written_elsewhere(_read_remote):
            yield
        _upload(staging, where)
    finally:
        del _STAGED[staging]


def destination(path: Path) -> Path | str:
    """Where a file written at ``path`` ends: its URI when ``path`` is in a staging folder (``output_folder``), else
    ``path``."""
    return _remote(path) or path


def _remote(path: str | Path) -> str | None:
    path = Path(path)
    for staging, where in _STAGED.items():
        if path.is_relative_to(staging):
            return f"{where}/{path.relative_to(staging).as_posix()}"
    return None


def _read_remote(path: Path) -> bytes | None:
    """The bytes of the file Spark wrote at a URI in the stead of ``path`` (None: ``path`` is in no staging folder)."""
    where = _remote(path)
    if where is None:
        return None
    filesystem, file = _filesystem(where)
    with _hadoop_errors("cannot read", where):
        stream = filesystem.open(file)
        try:
            return bytes(_jvm().org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()


def _upload(staging: Path, where: str) -> None:
    """Every file under ``staging`` copied to the same place under ``where`` (S3A puts an object once it is whole)."""
    filesystem, _ = _filesystem(where)
    hadoop_path = _jvm().org.apache.hadoop.fs.Path
    for path in sorted(path for path in staging.rglob("*") if path.is_file()):
        target = f"{where}/{path.relative_to(staging).as_posix()}"
        with _hadoop_errors("cannot upload", target):
            filesystem.copyFromLocalFile(False, True, hadoop_path(path.as_uri()), hadoop_path(target))

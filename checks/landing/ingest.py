"""Ingesting the landing zone: fetch every object not ingested before, verify, decrypt, validate, stage.

Each object goes seen -> fetched -> (decrypted) -> validated -> staged, or ends quarantined with a
one-line reason; a fetch that fails for a passing reason (object gone, transfer short) is ``failed``
and retried by the next run. Plaintext is written first under ``<stage>/.incoming/`` while it is
checked, then renamed to ``<stage>/deltaN.csv``; the ledger is updated after each rename, so a kill at
any point is repaired by the next run, which redoes the unfinished object and never stages it twice.
The ingest's own files live in a folder beside the stage, ``<stage>.checks/``, never inside the
folder a loader reads: refused plaintext (``quarantine/``), the stage's lock and ``owner.json``, which
names the one ledger that fills the stage (a second ledger pointed at it is an infrastructure failure).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from checks.errors import BadInputError, InfrastructureError, SourceError
from checks.encoding import Encoding, default_encoding
from checks.feed import delta_number, order_key, read_raw
from checks.landing.decrypt import (
    UNSIGNED_REASON,
    DecryptionError,
    GpgSession,
    Keyring,
    is_encrypted,
    keyring,
    plaintext_name,
)
from checks.landing.ledger import Ledger, ObjectRecord, now
from checks.landing.metrics import empty_table, measure
from checks.landing.quoting import excerpt, one_line, quoted
from checks.landing.source import ObjectInfo, ObjectVanishedError, Source, md5_etag
from checks.ledger_records import DeltaMetrics
from checks.model import Delta
from checks.validate import validate_delta

INCOMING = ".incoming"
# Where an older version kept refused plaintext, inside the stage; moved out by the next ingest.
LEGACY_QUARANTINE = ".quarantine"
STAGE_OWNER = "owner.json"
STAGE_LOCK = "stage.lock"
# The largest delta number taken seriously: a feed that grows by one a week never gets near it, and
# every number below it fits SQLite's INTEGER.
MAX_DELTA_NUMBER = 999_999_999
REASON_LIMIT = 160

# Outcomes of one object in one run.
STAGED = "staged"
QUARANTINED = "quarantined"
FAILED = "failed"
SKIPPED = "skipped"

BeforeRecord = Callable[[str, ObjectInfo], None]
Select = Callable[[list[ObjectInfo]], list[ObjectInfo]]


@dataclass(frozen=True)
class ObjectOutcome:
    """What one run did with one object."""

    key: str
    outcome: str
    reason: str = ""
    staged_name: str | None = None
    rows: int | None = None


@dataclass(frozen=True)
class IngestReport:
    """One ingest run: every listed object and what became of it."""

    source: str
    stage_dir: Path
    listed: int
    outcomes: tuple[ObjectOutcome, ...]
    warnings: tuple[str, ...] = ()

    def _with(self, outcome: str) -> tuple[ObjectOutcome, ...]:
        return tuple(item for item in self.outcomes if item.outcome == outcome)

    @property
    def staged(self) -> tuple[ObjectOutcome, ...]:
        return self._with(STAGED)

    @property
    def quarantined(self) -> tuple[ObjectOutcome, ...]:
        return self._with(QUARANTINED)

    @property
    def failed(self) -> tuple[ObjectOutcome, ...]:
        return self._with(FAILED)

    @property
    def skipped(self) -> tuple[ObjectOutcome, ...]:
        return self._with(SKIPPED)

    @property
    def passed(self) -> bool:
        return not self.quarantined and not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "stage": str(self.stage_dir),
            "listed": self.listed,
            "passed": self.passed,
            "objects": [item.__dict__ for item in self.outcomes],
            "warnings": list(self.warnings),
        }


class _Quarantine(Exception):
    """Internal: this object's content is unusable; ``flag`` marks re-uploads, duplicates, conflicts, links, signatures."""

    def __init__(self, reason: str, flag: str | None = None) -> None:
        # Reasons quote the customer's file (a header, a cell): one bounded, escaped line.
        reason = one_line(reason, REASON_LIMIT)
        super().__init__(reason)
        self.reason = reason
        self.flag = flag


def control_dir(stage_dir: str | Path) -> Path:
    """The ingest's own folder beside the stage (``landing/stage`` -> ``landing/stage.checks``)."""
    stage = Path(stage_dir).resolve()
    return stage.with_name(stage.name + ".checks")


def quarantine_dir(stage_dir: str | Path) -> Path:
    """Where refused plaintext is kept: outside the stage, so a loader pointed at the stage never sees it."""
    return control_dir(stage_dir) / "quarantine"


class _Failed(Exception):
    """Internal: this object could not be fetched intact this time; the next run tries again."""


def ingest(
    source: Source,
    stage_dir: str | Path,
    ledger: Ledger,
    *,
    keys: Keyring | None = None,
    keep_staging: bool = True,
    select: Select | None = None,
    before_record: BeforeRecord | None = None,
    lock_timeout: float = 60.0,
    encoding: Encoding | None = None,
) -> IngestReport:
    """Ingest every object of ``source`` that the ledger has not seen to a final state.

    ``encoding`` is the feed's contract (and the run's dictionaries): its file pattern names the deltas, its
    rules validate them; default: the first customer's.
    ``select`` narrows the listed objects (a poller that takes only some); ``before_record(step, object)``
    is called just before each ledger step is written (a hook for fault-injection tests).
    """
    stage_dir = Path(stage_dir)
    try:
        stage_dir.mkdir(parents=True, exist_ok=True)
        with ledger.lock(timeout=lock_timeout), stage_lock(stage_dir, lock_timeout):
            _claim_stage(stage_dir, ledger)
            _move_legacy_quarantine(stage_dir)
            # Left over from a killed run: never trusted, always redone.
            shutil.rmtree(stage_dir / INCOMING, ignore_errors=True)
            listed = source.list_objects()
            chosen = select(list(listed)) if select is not None else listed
            encoding = encoding or default_encoding()
            run = _Run(source, stage_dir, ledger, keys, before_record or (lambda step, info: None), encoding)
            try:
                outcomes = tuple(run.object(info) for info in sorted(chosen, key=lambda info: _feed_order(info, encoding)))
                run.record_metrics()
                if not keep_staging:
                    run.remove_plaintext()
            finally:
                run.close()
            shutil.rmtree(stage_dir / INCOMING, ignore_errors=True)
    except OSError as error:
        raise InfrastructureError(
            f"cannot {_doing(error)}: {error.strerror or error}; check the folder's permissions and free space",
            file=error.filename,
        ) from error
    return IngestReport(
        source=source.url, stage_dir=stage_dir, listed=len(listed), outcomes=outcomes, warnings=tuple(run.warnings)
    )


def _doing(error: OSError) -> str:
    return "read" if isinstance(error, FileNotFoundError) else "write"


@contextmanager
def stage_lock(stage_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the stage's own lock (two ledgers on one stage would not share a ledger lock; the gate takes it too)."""
    import filelock

    from checks.landing.ledger import LedgerBusyError

    control_dir(stage_dir).mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(control_dir(stage_dir) / STAGE_LOCK))
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout as error:
        raise LedgerBusyError(f"another ingest has held the stage for over {timeout:g} s", file=stage_dir) from error
    try:
        yield
    finally:
        lock.release()


def stage_owner(stage_dir: Path) -> str | None:
    """The id of the ledger that fills ``stage_dir`` (None for a new stage or one filled by an older version)."""
    try:
        return str(json.loads((control_dir(stage_dir) / STAGE_OWNER).read_text(encoding="utf-8"))["ledger_id"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise InfrastructureError(
            "the stage's owner file is unreadable; check what wrote it", file=control_dir(stage_dir) / STAGE_OWNER
        ) from error


def check_stage_owner(stage_dir: Path, ledger: Ledger) -> None:
    """``InfrastructureError`` when another ledger fills ``stage_dir``: their runs would undo each other."""
    owner = stage_owner(stage_dir)
    if owner is not None and owner != ledger.ledger_id:
        raise InfrastructureError(
            f"the stage is filled by another ledger (id {owner}), not {ledger.path} (id {ledger.ledger_id}); "
            "give each ledger its own stage",
            file=stage_dir,
        )


def _claim_stage(stage_dir: Path, ledger: Ledger) -> None:
    check_stage_owner(stage_dir, ledger)
    if stage_owner(stage_dir) is None:
        from checks.writers import atomic_write_text

        owner = {"ledger_id": ledger.ledger_id, "ledger": str(ledger.path)}
        atomic_write_text(control_dir(stage_dir) / STAGE_OWNER, json.dumps(owner) + "\n")


def _move_legacy_quarantine(stage_dir: Path) -> None:
    """Refused plaintext an older version kept inside the stage moves to the quarantine folder beside it."""
    legacy = stage_dir / LEGACY_QUARANTINE
    if not legacy.is_dir():
        return
    target = quarantine_dir(stage_dir)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(legacy.iterdir()):
        destination = target / path.name
        if destination.exists():
            destination = target / f"legacy-{path.name}"
        shutil.move(path, destination)
    legacy.rmdir()


def staged_deltas(
    stage_dir: Path, records: Sequence[ObjectRecord], encoding: Encoding | None = None
) -> tuple[list[Delta], list[str]]:
    """The staged deltas the ledger vouches for (feed order), and a warning per staged file that is missing."""
    encoding = encoding or default_encoding()
    deltas, missing = [], []
    for record in sorted((r for r in records if r.status == STAGED), key=lambda r: order_key(r.delta_number or 0)):
        path = stage_dir / str(record.staged_name)
        if not path.is_file():
            missing.append(f"{record.staged_name}: staged file not in {stage_dir} (staging not kept)")
            continue
        raw = read_raw(path, columns=encoding.contract.names)
        validation = validate_delta(raw, record.delta_number if record.delta_number is not None else 0, encoding)
        if validation.delta is not None:
            deltas.append(validation.delta)
    return deltas, missing


def _feed_order(info: ObjectInfo, encoding: Encoding) -> tuple[bool, tuple, str, str]:
    number = delta_number(plaintext_name(info.name), encoding.contract)
    return (number is None, order_key(number if number is not None else 0), info.last_modified.isoformat(), info.key)


class _Run:
    """The state of one ingest run: the staged history grows as objects are staged."""

    def __init__(
        self, source: Source, stage_dir: Path, ledger: Ledger, keys: Keyring | None, hook: BeforeRecord, encoding: Encoding
    ):
        self.source = source
        self.encoding = encoding
        self.stage_dir = stage_dir
        self.ledger = ledger
        self.keys = keys
        self.hook = hook
        self.warnings: list[str] = []
        self.staged_now: list[Path] = []
        self._history: list[Delta] | None = None
        self._session: GpgSession | None = None

    def close(self) -> None:
        """Stop the gpg-agent this run started, if it started one."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _keys(self) -> Keyring:
        if self.keys is None:
            try:
                self.keys = keyring()
            except DecryptionError as error:
                raise _Quarantine(error.message) from error
        return self.keys

    def _decrypt(self, data: bytes, info: ObjectInfo) -> tuple[bytes, str | None]:
        try:
            if self._session is None:
                self._session = GpgSession(self._keys())
            decrypted = self._session.decrypt(data, name=info.key)
        except DecryptionError as error:
            raise _Quarantine(error.message, flag=error.check) from error
        return decrypted.plaintext, decrypted.signer

    def object(self, info: ObjectInfo) -> ObjectOutcome:
        record = self.ledger.see(self.source.url, info)
        if record.final:
            return ObjectOutcome(info.key, SKIPPED, f"already {record.status}", record.staged_name, record.rows)
        try:
            return self._ingest(info, record)
        except _Quarantine as quarantine:
            self.hook("quarantined", info)
            self.ledger.record(record.id, "quarantined", quarantine.reason, reason=quarantine.reason, flag=quarantine.flag)
            return ObjectOutcome(info.key, QUARANTINED, quarantine.reason)
        except _Failed as failure:
            reason = str(failure)
            self.hook("failed", info)
            self.ledger.record(record.id, "failed", reason, reason=reason)
            return ObjectOutcome(info.key, FAILED, reason)

    def _ingest(self, info: ObjectInfo, record: ObjectRecord) -> ObjectOutcome:
        if info.symlink:
            raise _Quarantine("a symbolic link; links in a folder source are never followed", flag="symlink")
        name = plaintext_name(info.name)
        number = delta_number(name, self.encoding.contract)
        if number is None:
            pattern = self.encoding.contract.files.pattern
            raise _Quarantine(f"not a delta CSV (expected a name matching the contract's {pattern}, or that with .gpg)")
        if isinstance(number, int) and number > MAX_DELTA_NUMBER:
            raise _Quarantine(f"delta number {excerpt(number, 24)} is beyond the largest taken ({MAX_DELTA_NUMBER})")
        if info.size == 0:
            raise _Quarantine("empty object (0 bytes)")
        if not is_encrypted(info.name) and self._keys().checks_signatures and not self._keys().allow_unsigned:
            raise _Quarantine(UNSIGNED_REASON, flag="signature")

        data, version_id = self._fetch(info)
        sha256 = hashlib.sha256(data).hexdigest()
        self.hook("fetched", info)
        self.ledger.record(
            record.id, "fetched", fetched_size=len(data), sha256=sha256, version_id=version_id, delta_number=number
        )
        self._refuse_reupload(info)

        plaintext, signer = data, None
        if is_encrypted(info.name):
            plaintext, signer = self._decrypt(data, info)
            if not plaintext:
                raise _Quarantine("decrypted to an empty file")
        plaintext_sha256 = hashlib.sha256(plaintext).hexdigest()
        self._refuse_duplicate(info, plaintext_sha256, number)
        if is_encrypted(info.name):
            self.hook("decrypted", info)
            self.ledger.record(
                record.id, "decrypted", plaintext_size=len(plaintext), plaintext_sha256=plaintext_sha256, signer=signer
            )

        staged_name = f"delta{number}.csv"
        incoming = _write_incoming(self.stage_dir / INCOMING / str(record.id) / staged_name, plaintext)
        try:
            delta = self._validate(incoming, number)
        except _Quarantine:
            self._keep_quarantined(incoming, record.id)
            raise
        batches = pd.Series(delta.frame[self.encoding.contract.shape.version].unique()).sort_values()
        self.hook("validated", info)
        self.ledger.record(
            record.id,
            "validated",
            plaintext_size=len(plaintext),
            plaintext_sha256=plaintext_sha256,
            rows=len(delta.frame),
            batch_min=int(batches.min()),
            batch_max=int(batches.max()),
            batch_step=int(batches.diff().max()) if len(batches) > 1 else 0,
        )

        target = self.stage_dir / staged_name
        os.replace(incoming, target)
        _sync_folder(self.stage_dir)
        self.staged_now.append(target)
        self._history_deltas().append(delta)
        self.hook("staged", info)
        self.ledger.record(record.id, "staged", staged_name=staged_name)
        return ObjectOutcome(info.key, STAGED, staged_name=staged_name, rows=len(delta.frame))

    def _fetch(self, info: ObjectInfo) -> tuple[bytes, str | None]:
        try:
            fetched = self.source.fetch(info)
        except ObjectVanishedError as error:
            raise _Failed(error.message) from error
        except SourceError as error:
            raise _Failed(error.message) from error
        data = fetched.data
        if len(data) != info.size:
            raise _Failed(f"size mismatch: listed {info.size} bytes, fetched {len(data)}")
        if fetched.etag and fetched.etag != info.etag:
            raise _Failed("replaced between listing and fetch (ETag changed)")
        # A one-part upload's ETag is the MD5 of its bytes; multipart ETags ("...-N") are not.
        if "-" not in info.etag and len(info.etag) == 32 and md5_etag(data) != info.etag:
            raise _Failed("checksum mismatch: fetched bytes do not match the listed ETag")
        return data, fetched.version_id

    def _refuse_reupload(self, info: ObjectInfo) -> None:
        for other in self._final_records():
            if other.key == info.key and other.status == STAGED and other.etag != info.etag:
                raise _Quarantine(
                    f"re-uploaded with different content (ETag {info.etag}); the version ingested at "
                    f"{other.staged_at} (sha256 {str(other.sha256)[:12]}) stays staged",
                    flag="reuploaded",
                )

    def _refuse_duplicate(self, info: ObjectInfo, plaintext_sha256: str, number: int) -> None:
        for other in self._final_records():
            if other.status != STAGED or other.key == info.key:
                continue
            if other.plaintext_sha256 == plaintext_sha256:
                raise _Quarantine(f"duplicate upload: same content as {quoted(other.key)}, already staged", flag="duplicate")
            if other.delta_number == number:
                raise _Quarantine(
                    f"delta number {number} is already staged from {quoted(other.key)} with different content",
                    flag="conflict",
                )

    def _validate(self, path: Path, number: int) -> Delta:
        try:
            raw = read_raw(path, columns=self.encoding.contract.names)
        except BadInputError as error:
            raise _Quarantine(error.message) from error
        validation = validate_delta(raw, number, self.encoding)
        if validation.delta is None:
            raise _Quarantine(_first_failure("validation", validation.failures))
        history = self._history_deltas()
        before = _feed_failures(history, self.encoding)
        after = _feed_failures([*history, validation.delta], self.encoding)
        # Only failures this delta brings count against it; older ones were reported when they arrived.
        new = after[~_failure_keys(after).isin(set(_failure_keys(before)))]
        if not new.empty:
            raise _Quarantine(_first_failure("feed check", new))
        return validation.delta

    def _history_deltas(self) -> list[Delta]:
        if self._history is None:
            deltas, missing = staged_deltas(self.stage_dir, self._final_records(), self.encoding)
            if missing:
                self.warnings.append(
                    f"feed checks ran without {len(missing)} earlier delta(s) whose staged file is gone"
                )
            self._history = deltas
        return self._history

    def record_metrics(self) -> None:
        """Measure every staged delta the ledger has no figures for (this run's, or an older ledger's), replaying the feed in order."""
        staged = sorted(
            (record for record in self._final_records() if record.status == STAGED),
            key=lambda record: order_key(record.delta_number or 0),
        )
        measured = {metrics.object_id for metrics in self.ledger.metrics(self.source.url)}
        if all(record.id in measured for record in staged):
            return
        deltas = {delta.name: delta for delta in self._history_deltas()}
        table = empty_table()
        for record in staged:
            delta = deltas.get(str(record.staged_name))
            if delta is None:
                break  # its staged file is gone: the deltas after it cannot be measured against the table
            figures, table = measure(delta, table, self.encoding.contract.shape)
            if record.id not in measured:
                self.ledger.record_metrics(
                    DeltaMetrics(
                        object_id=record.id, source=record.source, arrived_at=record.last_modified,
                        fetched_at=record.fetched_at, bytes=record.plaintext_size or record.size, recorded_at=now(),
                        **figures.__dict__,
                    )
                )

    def _final_records(self) -> list[ObjectRecord]:
        return [record for record in self.ledger.records(self.source.url) if record.final]

    def _keep_quarantined(self, incoming: Path, object_id: int) -> None:
        target = quarantine_dir(self.stage_dir) / f"{object_id}-{incoming.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(incoming, target)

    def remove_plaintext(self) -> None:
        for path in self.staged_now:
            path.unlink(missing_ok=True)
        shutil.rmtree(quarantine_dir(self.stage_dir), ignore_errors=True)


def _feed_failures(deltas: Sequence[Delta], encoding: Encoding) -> pd.DataFrame:
    from checks.crossfeed import check_feed

    ordered = sorted(deltas, key=lambda delta: order_key(delta.number))
    return check_feed(ordered, encoding)


def _failure_keys(failures: pd.DataFrame) -> pd.Series:
    return failures["file"].astype(str) + ":" + failures["row"].astype(str) + ":" + failures["check"].astype(str)


def _first_failure(stage: str, failures: pd.DataFrame) -> str:
    first = failures.iloc[0]
    where = f"row {first['row']}" if pd.notna(first["row"]) else "file"
    column = f" column {first['column']}" if pd.notna(first["column"]) and first["column"] else ""
    value = f" value {excerpt(first['value'])}" if pd.notna(first["value"]) else ""
    return f"{len(failures)} {stage} failure(s); first: {where}{column} {first['check']}{value}"


def _write_incoming(path: Path, plaintext: bytes) -> Path:
    from checks.writers import atomic_write_bytes

    return atomic_write_bytes(path, plaintext)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry is on disk.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

"""The completeness audit: the landing zone compared with the ledger and with the feed's own numbering.

It finds what checks on fetched files cannot see: objects never ingested, objects that failed or were
quarantined, staged objects since deleted from the source, gaps in delta numbering (one line per
gap, however long), gaps or overlaps in batch ranges between consecutive staged deltas, and a source
that has gone quiet for longer than the feed's cadence (``late_delta``), and update deltas far from
the feed's usual size or amount (``volume_anomaly``, ``amount_anomaly``; ``checks.landing.anomalies``).
It reads only the listing and the ledger; nothing is fetched.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from checks.errors import UsageError
from checks.contract import Contract, default_contract
from checks.feed import delta_number, order_key
from checks.landing.anomalies import LATE_DELTA, Cadence, Thresholds, delta_anomalies, late, learned_cadence
from checks.landing.decrypt import plaintext_name
from checks.landing.ledger import Ledger, ObjectRecord
from checks.landing.quoting import one_line, quoted
from checks.landing.source import ObjectInfo, Source

# The cadence by default: the contract's frequency, else learned from the feed's arrivals.
AUTO = "auto"
CadenceSetting = timedelta | None | str

# Finding kinds, in the order they are reported.
EMPTY_SOURCE = "empty_source"
NEVER_INGESTED = "never_ingested"
INGEST_UNFINISHED = "ingest_unfinished"
FAILED = "failed"
QUARANTINED = "quarantined"
VANISHED = "vanished"
NUMBERING_GAP = "numbering_gap"
BATCH_OVERLAP = "batch_overlap"
BATCH_GAP = "batch_gap"

_DURATION = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
# Objects named per numbering gap; a longer list says how many more.
_NAMED_PER_GAP = 3


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the landing zone, as one line: ``key`` is the object or delta it is about."""

    kind: str
    key: str
    message: str

    def __str__(self) -> str:
        # The key may be a name from the source: quoted, so a newline in it cannot forge a line.
        return f"{self.kind}: {quoted(self.key)}: {one_line(self.message, limit=2000)}"


@dataclass(frozen=True)
class AuditReport:
    """The audit of one source at one moment; ``passed`` only when there are no findings."""

    source: str
    checked_at: datetime
    listed: int
    staged: tuple[str, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # what could not be checked, and why (too little history, no cadence)

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "checked_at": self.checked_at.isoformat(),
            "passed": self.passed,
            "listed": self.listed,
            "staged": list(self.staged),
            "findings": [asdict(finding) for finding in self.findings],
            "notes": list(self.notes),
        }


def parse_cadence(text: str) -> CadenceSetting:
    """``35d``, ``4w``, ``24h``, ``90m``; ``auto`` (the contract's frequency, else learned); ``off`` (or ``0``) disables it."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    if text.strip().lower() == AUTO:
        return AUTO
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"cadence must look like 35d, 4w, 24h, 90m, auto or off, not {text!r}")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def audit(
    source: Source,
    ledger: Ledger,
    *,
    cadence: CadenceSetting = AUTO,
    batch_gap: int | None = None,
    now: datetime | None = None,
    contract: Contract | None = None,
    thresholds: Thresholds = Thresholds(),
) -> AuditReport:
    """Audit ``source`` against ``ledger``.

    ``cadence``: the longest expected time between drops; ``AUTO`` (default) takes the contract's
    ``slaProperties`` frequency, else learns it from the arrivals; None checks no freshness.
    Update deltas not yet loaded (no gate said ``load`` to them) are compared with the feed's history.

    ``batch_gap`` is the largest jump between the last batch_id of a delta and the first of the next
    that is not a gap; by default the largest jump seen between consecutive batch ids inside any
    staged delta (the feed's own rhythm).
    """
    now = now or datetime.now(tz=UTC)
    listed = source.list_objects()
    records = ledger.records(source.url)
    contract = contract or default_contract()
    staged = sorted((r for r in records if r.status == "staged"), key=lambda r: order_key(r.delta_number or 0))
    notes: list[str] = []
    findings = [
        *_objects(listed, records),
        *_numbering(listed, staged, contract),
        *_batch_ranges(staged, batch_gap),
        *_anomalies(ledger, source.url, staged, contract, thresholds, notes),
        *_freshness(listed, _cadence(cadence, staged, contract, thresholds, notes), now, source.url),
    ]
    return AuditReport(
        source=source.url,
        checked_at=now,
        listed=len(listed),
        staged=tuple(str(record.staged_name) for record in staged),
        findings=tuple(findings),
        notes=tuple(notes),
    )


def _anomalies(
    ledger: Ledger, url: str, staged: list[ObjectRecord], contract: Contract, thresholds: Thresholds, notes: list[str]
) -> list[Finding]:
    """The staged update deltas no gate has loaded yet, each compared with the updates before it."""
    from checks.encoding import Encoding
    from checks.wording import Words

    recorded = {metrics.object_id: metrics for metrics in ledger.metrics(url)}
    loaded = ledger.loaded_files(url)
    pending = [str(record.staged_name) for record in staged if str(record.staged_name) not in loaded]
    unmeasured = [str(record.staged_name) for record in staged if record.id not in recorded]
    if unmeasured:
        notes.append(
            f"anomalies: no figures recorded for {', '.join(unmeasured)} "
            "(the next checks ingest measures every staged delta whose file is still staged)"
        )
    metrics = [recorded[record.id] for record in staged if record.id in recorded]
    found, too_early = delta_anomalies(metrics, Words.of(Encoding.of(contract)), thresholds)
    waiting = [name for name in too_early if name in pending]
    if waiting:
        notes.append(
            f"anomalies: {', '.join(waiting)} not compared: fewer than {thresholds.history} earlier update deltas; "
            "nothing flagged"
        )
    return [Finding(item.kind, item.file, item.message) for name in pending for item in found.get(name, [])]


def _cadence(
    cadence: CadenceSetting, staged: list[ObjectRecord], contract: Contract, thresholds: Thresholds, notes: list[str]
) -> Cadence | None:
    if cadence is None:
        return None
    if isinstance(cadence, timedelta):
        return Cadence(cadence, cadence, "--cadence")
    if contract.frequency is not None:
        return Cadence(contract.frequency, contract.frequency, "the contract's frequency")
    learned = learned_cadence([datetime.fromisoformat(record.last_modified) for record in staged], thresholds)
    if learned is None:
        notes.append(
            f"{LATE_DELTA}: not checked: the contract declares no frequency and fewer than {thresholds.history} "
            "intervals between deliveries to learn one from (give --cadence)"
        )
    return learned


def _objects(listed: list[ObjectInfo], records: list[ObjectRecord]) -> list[Finding]:
    """Every listed object that the ledger does not show as staged, and every staged one no longer listed."""
    by_identity = {(r.key, r.etag, r.size): r for r in records}
    listed_keys = {info.key for info in listed}
    findings = []
    for info in sorted(listed, key=lambda info: (info.last_modified, info.key)):
        record = by_identity.get((info.key, info.etag, info.size))
        uploaded = info.last_modified.isoformat(timespec="seconds")
        if record is None:
            findings.append(Finding(NEVER_INGESTED, info.key, f"uploaded {uploaded}, never ingested"))
        elif record.status == "failed":
            findings.append(Finding(FAILED, info.key, f"{record.reason} (retried by the next ingest)"))
        elif record.status == "quarantined":
            findings.append(Finding(record.flag or QUARANTINED, info.key, str(record.reason)))
        elif record.status != "staged":
            findings.append(
                Finding(INGEST_UNFINISHED, info.key, f"ingest stopped after step '{record.status}'; run ingest again")
            )
    for record in records:
        if record.status == "staged" and record.key not in listed_keys:
            findings.append(
                Finding(VANISHED, record.key, f"staged as {record.staged_name} at {record.staged_at}, "
                        "no longer in the source (deleted or moved since)")
            )
    return findings


def _numbering(listed: list[ObjectInfo], staged: list[ObjectRecord], contract: Contract) -> list[Finding]:
    """Each run of missing numbers in the staged feed (delta0, delta1, ...) as one line, naming objects that would fill it.

    Only a feed numbered by numbers has gaps; files ordered by text (dates) do not say what is missing."""
    present = sorted({record.delta_number for record in staged if isinstance(record.delta_number, int)})
    if not present:
        return []
    in_source: list[tuple[int, str]] = []
    for info in listed:
        number = delta_number(plaintext_name(info.name), contract)
        if isinstance(number, int) and number < present[-1]:
            in_source.append((number, info.key))
    in_source.sort()
    findings = []
    for before, after in zip([None, *present], present):
        first = 0 if before is None else before + 1
        last = after - 1
        if first > last:
            continue
        key = f"delta{first}" if first == last else f"delta{first}..delta{last}"
        between = f"between delta{before} and delta{after}" if before is not None else f"before delta{after}"
        count = "" if first == last else f" ({last - first + 1} numbers)"
        keys = [quoted(name) for number, name in in_source if first <= number <= last]
        named = ", ".join(keys[:_NAMED_PER_GAP]) + (f" and {len(keys) - _NAMED_PER_GAP} more" if len(keys) > _NAMED_PER_GAP else "")
        numbers = "this number" if first == last else "these numbers"
        where = f"the source has {named}" if keys else f"no object with {numbers} in the source"
        findings.append(Finding(NUMBERING_GAP, key, f"missing from the staged feed {between}{count}; {where}"))
    return findings


def _batch_ranges(staged: list[ObjectRecord], batch_gap: int | None) -> list[Finding]:
    """Consecutive staged deltas must continue each other's batch range: no overlap, no hole."""
    ranged = [r for r in staged if r.batch_min is not None and r.batch_max is not None]
    if batch_gap is None:
        batch_gap = max((int(r.batch_step or 0) for r in ranged), default=0)
    findings = []
    for previous, current in zip(ranged, ranged[1:]):
        pair = f"{previous.staged_name} -> {current.staged_name}"
        last, first = int(previous.batch_max), int(current.batch_min)  # type: ignore[arg-type]
        if first <= last:
            findings.append(
                Finding(BATCH_OVERLAP, pair, f"batch ranges overlap: {current.staged_name} starts at {first}, "
                        f"{previous.staged_name} ends at {last}")
            )
        elif first - last > batch_gap:
            findings.append(
                Finding(BATCH_GAP, pair, f"batch ids {last + 1}..{first - 1} are in no staged delta "
                        f"({first - last - 1} ids; the feed's largest step inside a delta is {batch_gap})")
            )
    return findings


def _freshness(listed: list[ObjectInfo], cadence: Cadence | None, now: datetime, url: str) -> list[Finding]:
    if not listed:
        return [Finding(EMPTY_SOURCE, url, "no objects in the source")]
    if cadence is None:
        return []
    newest = max(listed, key=lambda info: info.last_modified)
    overdue = late(newest.key, newest.last_modified, now, cadence)
    return [Finding(overdue.kind, overdue.file, overdue.message)] if overdue else []

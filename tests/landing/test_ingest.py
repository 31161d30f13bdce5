"""Ingest from a real S3 API (moto over HTTP) with real gpg: every fault the issue lists, each once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from checks.landing.decrypt import Keyring
from checks.landing.ingest import INCOMING, IngestReport, ingest
from checks.landing.ledger import Ledger, LedgerBusyError
from checks.cli import main
from checks.landing.source import FetchedObject, ObjectInfo, source
from tests.landing.conftest import PASSPHRASE, delta_csv, small_feed

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _ingest(bucket, tmp_path: Path, **options) -> tuple[IngestReport, Ledger]:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    report = ingest(source(bucket.url), tmp_path / "stage", ledger, **options)
    return report, ledger


def _fetches(ledger: Ledger) -> dict[int, int]:
    counts: dict[int, int] = {}
    for object_id, step, _, _ in ledger.events():
        if step == "fetched":
            counts[object_id] = counts.get(object_id, 0) + 1
    return counts


def _staged_files(tmp_path: Path) -> dict[str, bytes]:
    stage = tmp_path / "stage"
    return {path.name: path.read_bytes() for path in stage.glob("*.csv")}


def _upload_encrypted(bucket, keys, feed: list[bytes]) -> None:
    for number, plaintext in enumerate(feed):
        bucket.put(f"delta{number}.csv.gpg", keys.encrypt(plaintext))


def test_encrypted_feed_is_staged_and_recorded(bucket, gpg_env, tmp_path: Path) -> None:
    feed = small_feed()
    _upload_encrypted(bucket, gpg_env, feed)

    report, ledger = _ingest(bucket, tmp_path)

    assert report.passed and len(report.staged) == len(feed)
    assert _staged_files(tmp_path) == {f"delta{number}.csv": plaintext for number, plaintext in enumerate(feed)}
    records = ledger.records(source(bucket.url).url)
    assert {record.status for record in records} == {"staged"}
    for record in records:
        assert record.fetched_size == record.size
        assert record.rows == feed[record.delta_number].count(b"\r\n") - 1
        assert record.sha256 and record.plaintext_sha256 and record.sha256 != record.plaintext_sha256
        assert record.fetched_at < record.decrypted_at < record.validated_at < record.staged_at
    assert not (tmp_path / "stage" / INCOMING).exists()


def test_second_run_fetches_nothing(bucket, gpg_env, tmp_path: Path) -> None:
    _upload_encrypted(bucket, gpg_env, small_feed())
    _, ledger = _ingest(bucket, tmp_path)
    fetches_before = _fetches(ledger)

    again, ledger = _ingest(bucket, tmp_path)

    assert len(again.skipped) == again.listed and again.passed
    assert _fetches(ledger) == fetches_before


def test_every_new_object_is_fetched_not_just_the_newest(bucket, tmp_path: Path) -> None:
    feed = small_feed(deltas=4)
    bucket.put("delta0.csv", feed[0])
    _ingest(bucket, tmp_path)
    for number in (1, 2, 3):
        bucket.put(f"delta{number}.csv", feed[number])

    report, _ = _ingest(bucket, tmp_path)

    assert [item.staged_name for item in report.staged] == ["delta1.csv", "delta2.csv", "delta3.csv"]


def test_empty_bucket(bucket, tmp_path: Path) -> None:
    report, _ = _ingest(bucket, tmp_path)
    assert report.listed == 0 and report.outcomes == () and report.passed


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("notes.txt", b"hello", "not a delta CSV"),
        ("delta5.xlsx", b"PK\x03\x04", "not a delta CSV"),
        ("delta1.csv", b"", "empty object (0 bytes)"),
        ("delta1.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        ("delta1.csv", b"user_id,total_spend\r\n1,2\r\n", "missing column"),
        ("delta1.csv", delta_csv([(1, -5, 1, 1, 50)]), "1 validation failure"),
    ],
    ids=["text-file", "spreadsheet", "zero-byte", "binary", "wrong-header", "negative-spend"],
)
def test_bad_objects_are_quarantined_with_one_reason(bucket, tmp_path: Path, key: str, data: bytes, reason: str) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])
    bucket.put(key, data)

    report, ledger = _ingest(bucket, tmp_path)

    (quarantined,) = report.quarantined
    assert quarantined.key == key and reason in quarantined.reason and "\n" not in quarantined.reason
    assert [item.staged_name for item in report.staged] == ["delta0.csv"]
    assert set(_staged_files(tmp_path)) == {"delta0.csv"}
    (record,) = [record for record in ledger.records() if record.key == key]
    assert record.status == "quarantined" and reason in record.reason


def test_duplicated_upload_same_name_is_ingested_once(bucket, tmp_path: Path) -> None:
    feed = small_feed(deltas=2)
    bucket.put("delta0.csv", feed[0])
    bucket.put("delta1.csv", feed[1])
    _ingest(bucket, tmp_path)
    bucket.put("delta1.csv", feed[1])  # the same file dropped again

    report, ledger = _ingest(bucket, tmp_path)

    assert len(report.skipped) == 2 and not report.staged
    assert len(ledger.records()) == 2 and all(count == 1 for count in _fetches(ledger).values())


def test_duplicated_upload_under_another_name_is_flagged(bucket, gpg_env, tmp_path: Path) -> None:
    feed = small_feed(deltas=2)
    _upload_encrypted(bucket, gpg_env, feed)
    bucket.put("retry/delta1.csv", feed[1])  # same plaintext, uploaded again unencrypted

    report, ledger = _ingest(bucket, tmp_path)

    (duplicate,) = report.quarantined
    assert duplicate.key == "retry/delta1.csv" and "duplicate upload: same content as delta1.csv.gpg" in duplicate.reason
    assert {record.flag for record in ledger.records() if record.status == "quarantined"} == {"duplicate"}
    assert _staged_files(tmp_path)["delta1.csv"] == feed[1]


def test_reupload_with_different_content_is_flagged_not_replaced(bucket, tmp_path: Path) -> None:
    feed = small_feed(deltas=2)
    bucket.put("delta0.csv", feed[0])
    bucket.put("delta1.csv", feed[1])
    _ingest(bucket, tmp_path)
    changed = feed[1].replace(b"\r\n1,", b"\r\n9,", 1)
    bucket.put("delta1.csv", changed)

    report, ledger = _ingest(bucket, tmp_path)

    (flagged,) = report.quarantined
    assert flagged.key == "delta1.csv" and "re-uploaded with different content" in flagged.reason
    assert _staged_files(tmp_path)["delta1.csv"] == feed[1]
    assert [record.flag for record in ledger.records() if record.key == "delta1.csv"] == [None, "reuploaded"]


def test_object_deleted_between_list_and_get_fails_and_is_retried(bucket, tmp_path: Path) -> None:
    feed = small_feed(deltas=2)
    bucket.put("delta0.csv", feed[0])
    bucket.put("delta1.csv", feed[1])

    def delete_after_listing(listed: list[ObjectInfo]) -> list[ObjectInfo]:
        bucket.delete("delta1.csv")
        return listed

    report, ledger = _ingest(bucket, tmp_path, select=delete_after_listing)

    (failed,) = report.failed
    assert failed.key == "delta1.csv" and failed.reason == "deleted between listing and fetch"
    assert not report.passed
    bucket.put("delta1.csv", feed[1])
    retried, _ = _ingest(bucket, tmp_path)
    assert [item.key for item in retried.staged] == ["delta1.csv"]


@pytest.mark.parametrize(
    ("make_object", "passphrase", "reason"),
    [
        (lambda keys, plain: keys.encrypt(plain, to_other=True), PASSPHRASE, "no secret key"),
        (lambda keys, plain: keys.encrypt(plain)[:-40], PASSPHRASE, "truncated or tampered"),
        (lambda keys, plain: keys.encrypt(plain), None, "needs a passphrase"),
    ],
    ids=["wrong-key", "truncated-ciphertext", "passphrase-missing"],
)
def test_undecryptable_drop_is_quarantined_and_no_plaintext_lands(
    bucket, gpg_keys, tmp_path: Path, make_object, passphrase, reason: str
) -> None:
    feed = small_feed(deltas=2)
    bucket.put("delta0.csv.gpg", gpg_keys.encrypt(feed[0]))
    bucket.put("delta1.csv.gpg", make_object(gpg_keys, feed[1] * 20))
    keys = Keyring(gpg_keys.home, PASSPHRASE)
    if passphrase is None:
        # The first file needs the passphrase too; stage it first, then lose the passphrase.
        _ingest(bucket, tmp_path, keys=keys, select=lambda listed: [info for info in listed if "delta0" in info.key])
        keys = Keyring(gpg_keys.home, None)

    report, _ = _ingest(bucket, tmp_path, keys=keys)

    (quarantined,) = report.quarantined
    assert quarantined.key == "delta1.csv.gpg" and reason in quarantined.reason
    written = [path for path in (tmp_path / "stage").rglob("*") if path.is_file()]
    assert [path.name for path in written] == ["delta0.csv"]


def test_delta_overlapping_the_previous_batch_range_is_quarantined(bucket, tmp_path: Path) -> None:
    bucket.put("delta0.csv", delta_csv([(1, 10, 1, 1, 100), (2, 10, 1, 1, 200)]))
    bucket.put("delta1.csv", delta_csv([(1, 20, 1, 1, 150), (3, 20, 1, 1, 300)]))  # 150 <= 200

    report, _ = _ingest(bucket, tmp_path)

    (quarantined,) = report.quarantined
    assert quarantined.key == "delta1.csv" and "feed check failure" in quarantined.reason
    assert "batch_monotonic" in quarantined.reason


def test_no_keep_staging_removes_plaintext_but_keeps_the_record(bucket, gpg_env, tmp_path: Path) -> None:
    _upload_encrypted(bucket, gpg_env, small_feed(deltas=2))

    report, ledger = _ingest(bucket, tmp_path, keep_staging=False)

    assert len(report.staged) == 2
    assert [path for path in (tmp_path / "stage").rglob("*") if path.is_file()] == []
    assert {record.status for record in ledger.records()} == {"staged"}


class _ShortReads:
    """A source whose transfers lose their last byte: what a broken connection looks like."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.url = inner.url

    def list_objects(self) -> list[ObjectInfo]:
        return self.inner.list_objects()

    def fetch(self, info: ObjectInfo) -> FetchedObject:
        fetched = self.inner.fetch(info)
        return replace(fetched, data=fetched.data[:-1])


def test_short_transfer_fails_the_size_check(bucket, tmp_path: Path) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])
    ledger = Ledger(tmp_path / "ledger.sqlite")

    report = ingest(_ShortReads(source(bucket.url)), tmp_path / "stage", ledger)

    (failed,) = report.failed
    assert failed.reason.startswith("size mismatch: listed")
    assert ledger.records()[0].status == "failed"


def test_lock_held_elsewhere_is_a_clear_error(bucket, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with ledger.lock():
        other = Ledger(tmp_path / "ledger.sqlite")
        with pytest.raises(LedgerBusyError, match="another ingest has held the lock"):
            ingest(source(bucket.url), tmp_path / "stage", other, lock_timeout=0.2)


# A separate process, so a SIGKILL is a real kill: nothing in it gets to clean up.
_INGEST_SCRIPT = """
import json, os, signal, sys, time
from checks.landing.ingest import ingest
from checks.landing.ledger import Ledger
from checks.landing.source import source
url, stage, ledger_path, kill_step, kill_key, pause = sys.argv[1:7]

def hook(step, info):
    if step == kill_step and info.key == kill_key:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(pause))

report = ingest(source(url), stage, Ledger(ledger_path), before_record=hook)
print(json.dumps(report.to_dict()))
"""


def _ingest_process(bucket, tmp_path: Path, *, kill_step: str = "", kill_key: str = "", pause: float = 0.0):
    arguments = [str(tmp_path / "stage"), str(tmp_path / "ledger.sqlite"), kill_step, kill_key, str(pause)]
    return subprocess.Popen(
        [sys.executable, "-c", _INGEST_SCRIPT, bucket.url, *arguments],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy(),
    )


@pytest.mark.parametrize("step", ["fetched", "validated", "staged"])
def test_kill_at_any_step_loses_and_duplicates_nothing(bucket, gpg_env, tmp_path: Path, step: str) -> None:
    feed = small_feed(deltas=3)
    _upload_encrypted(bucket, gpg_env, feed)

    killed = _ingest_process(bucket, tmp_path, kill_step=step, kill_key="delta1.csv.gpg")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        status = {record.key: record.status for record in ledger.records()}
    assert status["delta0.csv.gpg"] == "staged" and status["delta1.csv.gpg"] != "staged"

    report, ledger = _ingest(bucket, tmp_path)

    assert [item.key for item in report.staged] == ["delta1.csv.gpg", "delta2.csv.gpg"]
    assert _staged_files(tmp_path) == {f"delta{number}.csv": plaintext for number, plaintext in enumerate(feed)}
    assert len(ledger.records()) == len(feed) and {record.status for record in ledger.records()} == {"staged"}
    staged_events = [event for event in ledger.events() if event[1] == "staged"]
    assert len(staged_events) == len(feed)
    assert not any(path.name.startswith(".") and path.is_file() for path in (tmp_path / "stage").iterdir())


def test_two_ingests_at_once_ingest_each_object_once(bucket, gpg_env, tmp_path: Path) -> None:
    feed = small_feed(deltas=3)
    _upload_encrypted(bucket, gpg_env, feed)

    first = _ingest_process(bucket, tmp_path, pause=0.2)
    second = _ingest_process(bucket, tmp_path, pause=0.2)
    results = [process.communicate(timeout=120) for process in (first, second)]

    assert [process.returncode for process in (first, second)] == [0, 0], [err.decode()[-500:] for _, err in results]
    reports = [json.loads(out) for out, _ in results]
    staged_by = [sum(item["outcome"] == "staged" for item in report["objects"]) for report in reports]
    assert sorted(staged_by) == [0, len(feed)]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert list(_fetches(ledger).values()) == [1] * len(feed)
        assert len([event for event in ledger.events() if event[1] == "staged"]) == len(feed)


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    drops = tmp_path / "drops"
    drops.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (drops / name).parent.mkdir(parents=True, exist_ok=True)
        (drops / name).write_bytes(data)
    return drops


def test_a_symlink_out_of_the_source_is_refused_and_its_target_never_read(tmp_path: Path, capsys) -> None:
    secret = tmp_path / "passwd"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    other_customer = _folder(tmp_path / "other", {"delta1.csv": small_feed(deltas=2)[1]})
    drops = _folder(tmp_path, {"delta0.csv": small_feed(deltas=1)[0]})
    (drops / "delta5.csv").symlink_to(secret)
    (drops / "delta1.csv").symlink_to(other_customer / "delta1.csv")
    (drops / "linked").symlink_to(other_customer, target_is_directory=True)

    code = main(["ingest", "--source", str(drops), "--stage", str(tmp_path / "stage"), "--ledger", str(tmp_path / "ledger.sqlite")])

    out = capsys.readouterr().out
    assert code == 1
    for key in ("delta1.csv", "delta5.csv", "linked"):
        assert f"quarantined: {key}: a symbolic link; links in a folder source are never followed" in out
    assert "root:" not in out
    assert _staged_files(tmp_path) == {"delta0.csv": small_feed(deltas=1)[0]}
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert {record.key: record.flag for record in ledger.records() if record.status == "quarantined"} == {
            "delta1.csv": "symlink", "delta5.csv": "symlink", "linked": "symlink",
        }
        assert all("root:" not in str(record.reason) for record in ledger.records())
    written = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_symlink()]
    assert not any(b"root:x:0:0" in path.read_bytes() for path in written if path != secret)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("delta99999999999999999999.csv", "delta number 99999999999999999999 is beyond the largest taken (999999999)"),
        ("delta" + "9" * 200 + ".csv", "is beyond the largest taken"),
    ],
    ids=["past-sqlite-integers", "two-hundred-digits"],
)
def test_absurd_delta_numbers_are_refused_in_one_line(tmp_path: Path, name: str, reason: str) -> None:
    feed = small_feed(deltas=2)
    drops = _folder(tmp_path, {"delta0.csv": feed[0], name: feed[1]})

    report = ingest(source(drops), tmp_path / "stage", Ledger(tmp_path / "ledger.sqlite"))

    (refused,) = report.quarantined
    assert refused.key == name and reason in refused.reason and len(refused.reason) < 200
    assert [item.staged_name for item in report.staged] == ["delta0.csv"]


def test_a_newline_in_a_name_cannot_forge_an_output_line(tmp_path: Path, capsys) -> None:
    forged = "x\nstaged: delta1.csv: delta1.csv, 4 rows\n.csv"
    drops = _folder(tmp_path, {"delta0.csv": small_feed(deltas=1)[0], forged: b"anything"})

    code = main(["ingest", "--source", str(drops), "--stage", str(tmp_path / "stage"), "--ledger", str(tmp_path / "ledger.sqlite")])

    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert "staged: delta1.csv: delta1.csv, 4 rows" not in lines
    assert f"quarantined: {forged!r}: not a delta CSV (expected a name matching the contract's .*delta[_-]?(?P<order>\\d+)\\.csv, or that with .gpg)" in lines


def test_a_file_that_fails_parsing_is_echoed_only_as_a_bounded_excerpt(tmp_path: Path) -> None:
    header = "user_id," + "x" * 5000 + "\x1b[31m\r\n"
    drops = _folder(tmp_path, {"delta0.csv": (header + "1,2\r\n").encode()})

    report = ingest(source(drops), tmp_path / "stage", Ledger(tmp_path / "ledger.sqlite"))

    (refused,) = report.quarantined
    assert len(refused.reason) <= 165 and "\x1b" not in refused.reason and "x" * 200 not in refused.reason


def test_quarantined_plaintext_is_kept_beside_the_stage_not_in_it(tmp_path: Path) -> None:
    drops = _folder(tmp_path, {"delta0.csv": small_feed(deltas=1)[0], "delta1.csv": delta_csv([(1, -5, 1, 1, 50)])})

    report = ingest(source(drops), tmp_path / "stage", Ledger(tmp_path / "ledger.sqlite"))

    assert [item.key for item in report.quarantined] == ["delta1.csv"]
    assert sorted(path.name for path in (tmp_path / "stage").rglob("*")) == ["delta0.csv"]
    (kept,) = (tmp_path / "stage.checks" / "quarantine").iterdir()
    assert kept.read_bytes() == delta_csv([(1, -5, 1, 1, 50)])


def test_an_older_versions_quarantine_inside_the_stage_is_moved_out(tmp_path: Path) -> None:
    drops = _folder(tmp_path, {"delta0.csv": small_feed(deltas=1)[0]})
    legacy = tmp_path / "stage" / ".quarantine"
    legacy.mkdir(parents=True)
    (legacy / "7-delta3.csv").write_bytes(b"refused plaintext")

    ingest(source(drops), tmp_path / "stage", Ledger(tmp_path / "ledger.sqlite"))

    assert not legacy.exists()
    assert (tmp_path / "stage.checks" / "quarantine" / "7-delta3.csv").read_bytes() == b"refused plaintext"


@pytest.mark.parametrize(
    ("signed_by", "plain", "outcome", "reason"),
    [
        ("sender", False, "staged", ""),
        ("recipient", False, "quarantined", "not a trusted signer of this feed"),
        (None, False, "quarantined", "not signed; this feed requires a signature"),
        (None, True, "quarantined", "not signed; this feed requires a signature"),
    ],
    ids=["trusted-signer", "wrong-signer", "unsigned", "plaintext-drop"],
)
def test_trusted_signers_are_required_when_listed(
    bucket, gpg_keys, tmp_path: Path, signed_by, plain: bool, outcome: str, reason: str
) -> None:
    feed = small_feed(deltas=2)
    bucket.put("delta0.csv.gpg", gpg_keys.encrypt(feed[0], signed_by="sender"))
    if plain:
        bucket.put("delta1.csv", feed[1])
    else:
        bucket.put("delta1.csv.gpg", gpg_keys.encrypt(feed[1], signed_by=signed_by))
    keys = Keyring(gpg_keys.home, PASSPHRASE, frozenset({gpg_keys.other_fingerprint}))

    report, ledger = _ingest(bucket, tmp_path, keys=keys)

    by_key = {item.key: item for item in report.outcomes}
    second = by_key["delta1.csv" if plain else "delta1.csv.gpg"]
    assert by_key["delta0.csv.gpg"].outcome == "staged" and second.outcome == outcome and reason in second.reason
    records = {record.key: record for record in ledger.records()}
    assert records["delta0.csv.gpg"].signer == gpg_keys.other_fingerprint
    if outcome == "quarantined":
        assert records[second.key].flag == "signature" and records[second.key].signer is None


def test_trusted_signer_option_on_the_command_line(bucket, gpg_env, tmp_path: Path, capsys) -> None:
    bucket.put("delta0.csv.gpg", gpg_env.encrypt(small_feed(deltas=1)[0]))  # encrypted, not signed
    arguments = ["ingest", "--source", bucket.url, "--stage", str(tmp_path / "stage"), "--ledger", str(tmp_path / "ledger.sqlite")]

    code = main([*arguments, "--trusted-signer", gpg_env.other_fingerprint])

    assert code == 1
    assert "quarantined: delta0.csv.gpg: not signed; this feed requires a signature by a trusted signer" in capsys.readouterr().out


def test_a_large_drop_without_passphrase_is_quarantined_and_later_drops_still_ingested(bucket, gpg_keys, tmp_path: Path) -> None:
    feed = small_feed(deltas=3)
    big = feed[1] + b"".join(f"{user},1,1,1,{4 + user}\r\n".encode() for user in range(5, 6000))
    bucket.put("delta0.csv", feed[0])
    bucket.put("delta1.csv.gpg", gpg_keys.encrypt(big))
    bucket.put("delta2.csv", feed[2])

    report, _ = _ingest(bucket, tmp_path, keys=Keyring(gpg_keys.home, None))

    assert [(item.key, item.outcome) for item in report.outcomes] == [
        ("delta0.csv", "staged"), ("delta1.csv.gpg", "quarantined"), ("delta2.csv", "staged"),
    ]
    assert "needs a passphrase" in report.outcomes[1].reason

"""The gate and the three commands end to end: the real incident replayed through a 24-hour poller.

The acceptance test puts all five deltas of ../shared/cases/johnnys-jeans, encrypted, in a moto
bucket as they landed, and ingests like the platform's poller did: once per day, only the newest
object. delta3 and delta4 landed in the same window, so delta3 was never fetched; the audit must
name it before any load and the gate must refuse.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from checks.cli import main
from checks.landing.ingest import ingest
from checks.landing.ledger import Ledger
from checks.landing.source import source
from tests.landing.conftest import case_dir, small_feed

PROJECT_GX = Path(__file__).resolve().parents[2] / "gx"
# Drops per 24-hour polling window; the fourth window received two.
WINDOWS = (("delta0.csv",), ("delta1.csv",), ("delta2.csv",), ("delta3.csv", "delta4.csv"))


def _gx_dir(tmp_path: Path) -> Path:
    gx_dir = tmp_path / "gx"
    gx_dir.mkdir()
    shutil.copy(PROJECT_GX / "great_expectations.yml", gx_dir)
    return gx_dir


def _newest_only(listed):
    # Upload times have one-second resolution; on a tie the later name is the newer drop.
    return [max(listed, key=lambda info: (info.last_modified, info.key))]


def _cli(capsys, *arguments: str) -> tuple[int, str]:
    code = main(list(arguments))
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_incident_audit_names_the_skipped_file_and_gate_refuses(bucket, gpg_env, tmp_path: Path, capsys) -> None:
    case = case_dir()
    stage, ledger_path, gx_dir = tmp_path / "stage", tmp_path / "ledger.sqlite", _gx_dir(tmp_path)
    with Ledger(ledger_path) as ledger:
        for window in WINDOWS:
            for name in window:
                bucket.put(name + ".gpg", gpg_env.encrypt((case / name).read_bytes()))
            ingest(source(bucket.url), stage, ledger, select=_newest_only)
        fetched = sorted(record.key for record in ledger.records() if record.fetched_at)
    skipped = "delta3.csv.gpg"
    assert skipped not in fetched and len(fetched) == 4
    common = ("--source", bucket.url, "--ledger", str(ledger_path))

    code, text = _cli(capsys, "audit", *common, "--json")
    findings = json.loads(text)["findings"]
    assert code == 1
    assert {"kind": "never_ingested", "key": skipped} in [{k: f[k] for k in ("kind", "key")} for f in findings]
    assert any(f["kind"] == "numbering_gap" and skipped in f["message"] for f in findings)
    assert any(f["kind"] == "batch_gap" and f["key"] == "delta2.csv -> delta4.csv" for f in findings)

    out = tmp_path / "out"
    code, text = _cli(capsys, "gate", *common, "--stage", str(stage), "--out", str(out), "--gx-dir", str(gx_dir))
    assert code == 1
    assert f"never_ingested: {skipped}: " in text and "refuse the load" in text
    results = json.loads((out / "gate.json").read_text())
    assert results["decision"] == "refuse" and Path(results["data_docs"]).is_file()

    # Once the poller's gap is closed by a real ingest, the same gate lets the load through.
    code, text = _cli(capsys, "ingest", *common, "--stage", str(stage))
    assert code == 0 and f"staged: {skipped}: delta3.csv" in text
    code, text = _cli(capsys, "gate", *common, "--stage", str(stage), "--out", str(out), "--gx-dir", str(gx_dir))
    assert code == 0, text
    assert json.loads((out / "gate.json").read_text())["decision"] == "load"


@pytest.mark.slow
def test_gate_refuses_a_staged_file_the_ledger_does_not_know(bucket, tmp_path: Path, capsys) -> None:
    for number, data in enumerate(small_feed()):
        bucket.put(f"delta{number}.csv", data)
    stage, ledger_path = tmp_path / "stage", tmp_path / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:
        ingest(source(bucket.url), stage, ledger)
    (stage / "delta7.csv").write_bytes((stage / "delta2.csv").read_bytes())

    code, text = _cli(
        capsys, "gate", "--source", bucket.url, "--ledger", str(ledger_path), "--stage", str(stage),
        "--out", str(tmp_path / "out"), "--gx-dir", str(_gx_dir(tmp_path)), "--no-docs",
    )

    assert code == 1
    assert "staging_mismatch: delta7.csv: " in text
    assert (tmp_path / "out" / "gate.json").is_file()


@pytest.mark.slow
def test_gate_with_a_broken_gx_project_cannot_decide(bucket, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken-gx"
    broken.mkdir()
    (broken / "great_expectations.yml").write_text("stores: [unclosed\n")
    for number, data in enumerate(small_feed(deltas=1)):
        bucket.put(f"delta{number}.csv", data)
    stage, ledger_path = tmp_path / "stage", tmp_path / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:
        ingest(source(bucket.url), stage, ledger)

    code = main(["gate", "--source", bucket.url, "--ledger", str(ledger_path), "--stage", str(stage),
                 "--out", str(tmp_path / "out"), "--gx-dir", str(broken)])

    assert code == 2
    assert "cannot read the Great Expectations config" in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["decision"] == "refuse"


def test_ingest_command_one_line_per_object_and_exit_codes(bucket, tmp_path: Path, capsys) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])
    bucket.put("notes.txt", b"hello")
    arguments = ("ingest", "--source", bucket.url, "--stage", str(tmp_path / "stage"),
                 "--ledger", str(tmp_path / "ledger.sqlite"))

    code, text = _cli(capsys, *arguments)

    assert code == 1
    assert text.splitlines() == [
        "staged: delta0.csv: delta0.csv, 4 rows",
        "quarantined: notes.txt: not a delta CSV (expected a name like delta0.csv or delta0.csv.gpg)",
        f"{source(bucket.url).url}: 2 object(s), 1 staged, 1 quarantined, 0 failed, 0 already ingested",
    ]
    bucket.delete("notes.txt")
    code, text = _cli(capsys, *arguments, "--json")
    assert code == 0 and [item["outcome"] for item in json.loads(text)["objects"]] == ["skipped"]


def test_audit_command_passes_on_a_complete_feed(bucket, tmp_path: Path, capsys) -> None:
    for number, data in enumerate(small_feed()):
        bucket.put(f"delta{number}.csv", data)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ingest(source(bucket.url), tmp_path / "stage", ledger)

    code, text = _cli(capsys, "audit", "--source", bucket.url, "--ledger", str(tmp_path / "ledger.sqlite"))

    assert code == 0 and text.strip().endswith("3 staged; complete")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("audit", "--source", "gs://bucket/x"), "unsupported source scheme"),
        (("audit", "--source", "{tmp}", "--cadence", "soon"), "cadence must look like"),
        (("ingest", "--source", "{tmp}", "--gnupghome", "{tmp}/absent"), "GnuPG home folder not found"),
        (("audit", "--source", "{tmp}/absent"), "source folder not found"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, capsys, arguments, message: str) -> None:
    filled = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]

    code = main([*filled, "--ledger", str(tmp_path / "ledger.sqlite")])

    error = capsys.readouterr().err
    assert code == 2 and message in error and len(error.strip().splitlines()) == 1

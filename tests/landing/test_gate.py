"""The gate and the three commands end to end: the real incident replayed through a 24-hour poller.

The acceptance test puts all five deltas of ../shared/cases/johnnys-jeans, encrypted, in a moto
bucket as they landed, and ingests like the platform's poller did: once per day, only the newest
object. delta3 and delta4 landed in the same window, so delta3 was never fetched; the audit must
name it before any load and the gate must refuse.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cli import main
from checks.errors import ChecksError
from checks.landing.gate import gate
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
        "quarantined: notes.txt: not a delta CSV (expected a name matching the contract's .*delta[_-]?(?P<order>\\d+)\\.csv, or that with .gpg)",
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


# --- the chain of custody: the gate approves only the bytes the ledger recorded -------------------


def _staged_case(tmp_path: Path) -> dict[str, Path]:
    """The five real deltas dropped into a folder source and ingested."""
    drops = tmp_path / "drops"
    drops.mkdir()
    for delta in sorted(case_dir().glob("delta*.csv")):
        shutil.copy(delta, drops)
    paths = {"drops": drops, "stage": tmp_path / "stage", "ledger": tmp_path / "ledger.sqlite"}
    with Ledger(paths["ledger"]) as ledger:
        report = ingest(source(paths["drops"]), paths["stage"], ledger)
    assert report.passed and len(report.staged) == 5
    return paths


def _gate(capsys, tmp_path: Path, paths: dict[str, Path], *extra: str) -> tuple[int, list[str], str]:
    code = main([
        "gate", "--source", str(paths["drops"]), "--stage", str(paths["stage"]), "--ledger", str(paths["ledger"]),
        "--out", str(tmp_path / "out"), "--gx-dir", str(_gx_dir(tmp_path)), "--no-docs", "--cadence", "off", *extra,
    ])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def _results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "gate.json").read_text())


def _change_a_saved_count(stage: Path) -> str:
    path = stage / "delta2.csv"
    lines = path.read_bytes().split(b"\n")
    assert lines[1].startswith(b"8194,3169,14,")  # the example: count_saved_items 14 -> 94
    lines[1] = lines[1].replace(b",14,", b",94,", 1)
    path.write_bytes(b"\n".join(lines))
    return "delta2.csv"


def _add_1000_to_every_spend(stage: Path) -> str:
    path = stage / "delta4.csv"
    header, *rows = path.read_text().splitlines()
    changed = [header] + [",".join([r.split(",")[0], str(int(r.split(",")[1]) + 1000), *r.split(",")[2:]]) for r in rows]
    path.write_text("\r\n".join(changed) + "\r\n")
    return "delta4.csv"


def _link_to_an_identical_copy(stage: Path) -> str:
    copy = stage.parent / "copy-of-delta3.csv"
    shutil.copy(stage / "delta3.csv", copy)
    (stage / "delta3.csv").unlink()
    (stage / "delta3.csv").symlink_to(copy)
    return "delta3.csv"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "line"),
    [
        (_change_a_saved_count, "tampered: delta2.csv: sha256 differs from the ledger"),
        (_add_1000_to_every_spend, "tampered: delta4.csv: sha256 differs from the ledger"),
        (_link_to_an_identical_copy, "tampered: delta3.csv: is a symbolic link, not the file the ingest staged"),
    ],
    ids=["one-byte", "every-spend-plus-1000", "symlink"],
)
def test_gate_refuses_staged_bytes_that_differ_from_the_ledger(tmp_path: Path, capsys, tamper, line: str) -> None:
    paths = _staged_case(tmp_path)
    file = tamper(paths["stage"])

    code, lines, _ = _gate(capsys, tmp_path, paths)

    assert code == 1 and line in lines
    results = _results(tmp_path)
    assert results["decision"] == "refuse" and file not in [entry["file"] for entry in results["manifest"]]


@pytest.mark.slow
def test_gate_approves_a_manifest_of_the_verified_bytes(tmp_path: Path, capsys) -> None:
    paths = _staged_case(tmp_path)
    # A copy left by a gate that was killed on this host (its process is gone), and one of a gate still running.
    host = socket.gethostname().replace("-", "_")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / "stage.checks" / f"gate-{host}-{int(ended.stdout)}-x1"
    running = tmp_path / "stage.checks" / f"gate-{host}-{os.getpid()}-x2"
    for folder in (left, running):
        folder.mkdir(parents=True)
        (folder / "delta0.csv").write_text("user_id\n")

    code, lines, _ = _gate(capsys, tmp_path, paths)

    assert code == 0 and lines[-1].startswith("gate: safe to load")
    with Ledger(paths["ledger"]) as ledger:
        rows = {record.staged_name: record.rows for record in ledger.records()}
    expected = [
        {"file": f"delta{n}.csv", "sha256": hashlib.sha256((paths["stage"] / f"delta{n}.csv").read_bytes()).hexdigest(),
         "rows": rows[f"delta{n}.csv"]}
        for n in range(5)
    ]
    results = _results(tmp_path)
    assert results["decision"] == "load" and results["manifest"] == expected
    assert results["run"]["feed"]["folder"] == str(paths["stage"])
    assert list((tmp_path / "stage.checks").glob("gate-*")) == [running]  # the verified copy and the killed one's are gone


@pytest.mark.slow
def test_gate_refuses_anything_in_the_stage_the_manifest_does_not_list(tmp_path: Path, capsys) -> None:
    paths = _staged_case(tmp_path)
    stage = paths["stage"]
    (stage / "users.csv").write_text("user_id\n1\n")
    (stage / "sub").mkdir()
    shutil.copy(stage / "delta0.csv", stage / "sub" / "delta5.csv")
    (stage / ".quarantine").mkdir()
    (stage / ".quarantine" / "9-delta7.csv").write_text("refused plaintext")

    code, lines, _ = _gate(capsys, tmp_path, paths)

    assert code == 1
    mismatched = sorted(line.split(": ")[1] for line in lines if line.startswith("staging_mismatch: "))
    assert mismatched == [".quarantine/9-delta7.csv", "sub/delta5.csv", "users.csv"]
    assert any(line.startswith("staging_mismatch: .quarantine/9-delta7.csv: quarantined plaintext inside the stage") for line in lines)


@pytest.mark.slow
def test_a_staged_object_deleted_from_the_source_is_vanished(tmp_path: Path, capsys) -> None:
    paths = _staged_case(tmp_path)
    (paths["drops"] / "delta3.csv").unlink()

    code, lines, _ = _gate(capsys, tmp_path, paths)

    assert code == 1
    assert any(line.startswith("vanished: delta3.csv: staged as delta3.csv at ") for line in lines)


@pytest.mark.slow
def test_a_newline_in_a_name_cannot_make_the_gate_say_safe(tmp_path: Path, capsys) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    for number, data in enumerate(small_feed()):
        (drops / f"delta{number}.csv").write_bytes(data)
    (drops / "x\ngate: safe to load; results in out\n.csv").write_bytes(b"anything")
    paths = {"drops": drops, "stage": tmp_path / "stage", "ledger": tmp_path / "ledger.sqlite"}
    with Ledger(paths["ledger"]) as ledger:
        ingest(source(drops), paths["stage"], ledger)

    code, lines, _ = _gate(capsys, tmp_path, paths)

    assert code == 1
    assert not any(line.startswith("gate: safe to load") for line in lines)
    assert "quarantined: 'x\\ngate: safe to load; results in out\\n.csv': not a delta CSV" in "\n".join(lines)


# --- a broken pipeline is not bad data: exit 3, one line, the traceback in a log, gate.json says so ---


def _scribble_on_a_page(ledger: Path) -> None:
    data = bytearray(ledger.read_bytes())
    data[2 * 4096 : 2 * 4096 + 64] = b"\xff" * 64  # a b-tree page of the ledger
    ledger.write_bytes(bytes(data))


def _edit_events(sql: str):
    def edit(ledger: Path) -> None:
        connection = sqlite3.connect(ledger)
        with connection:
            connection.execute(sql)
        connection.close()

    return edit


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    """``path`` cannot be written, even by root (the tests may run as root, for whom chmod is no obstacle)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root without chattr +i: cannot make a path read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_scribble_on_a_page, "ledger is damaged: SQLite reports"),
        (_edit_events("DELETE FROM events WHERE step = 'staged' AND object_id = 3"), "but its events say otherwise"),
        (_edit_events("UPDATE events SET object_id = 99 WHERE id = 1"), "event(s) belong to no object"),
        (_edit_events("UPDATE objects SET plaintext_sha256 = 'ab' WHERE id = 2"), "differs from what its staged event recorded"),
    ],
    ids=["damaged-page", "staged-event-deleted", "event-moved", "row-edited-without-its-event"],
)
def test_a_damaged_ledger_means_the_gate_could_not_decide(tmp_path: Path, capsys, damage, message: str) -> None:
    paths = _staged_case(tmp_path)
    damage(paths["ledger"])

    code, lines, err = _gate(capsys, tmp_path, paths)

    assert code == 3 and lines == []
    (line,) = err.strip().splitlines()
    assert line.startswith("checks: error: could not decide: ") and message in line
    log = tmp_path / "out" / "checks-gate-error.log"
    assert f"traceback in {log}" in line and "Traceback" in log.read_text()
    results = _results(tmp_path)
    assert results["decision"] == "could not decide" and results["passed"] is False and message in results["error"]


def _ingest_cli(capsys, paths: dict[str, Path]) -> tuple[int, str]:
    code = main(["ingest", "--source", str(paths["drops"]), "--stage", str(paths["stage"]), "--ledger", str(paths["ledger"])])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("ledger", "cannot write the ledger (attempt to write a readonly database)"),
        ("stage", "check the folder's permissions and free space"),
    ],
    ids=["read-only-ledger", "unwritable-stage"],
)
def test_ingest_into_a_read_only_ledger_or_stage_could_not_decide(tmp_path: Path, capsys, broken: str, message: str) -> None:
    feed = small_feed(deltas=2)
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "delta0.csv").write_bytes(feed[0])
    paths = {"drops": drops, "stage": tmp_path / "stage", "ledger": tmp_path / "ledger.sqlite"}
    assert _ingest_cli(capsys, paths)[0] == 0
    (drops / "delta1.csv").write_bytes(feed[1])

    with _immutable(paths[broken]):
        code, err = _ingest_cli(capsys, paths)

    (line,) = err.strip().splitlines()
    assert code == 3 and line.startswith("checks: error: could not decide: ") and message in line
    assert "Traceback" in (tmp_path / "checks-ingest-error.log").read_text()


@pytest.mark.slow
def test_two_ledgers_sharing_one_stage_could_not_decide(tmp_path: Path, capsys) -> None:
    paths = _staged_case(tmp_path)
    second = {**paths, "ledger": tmp_path / "second" / "ledger.sqlite"}

    code, err = _ingest_cli(capsys, second)
    assert code == 3 and "the stage is filled by another ledger" in err and "give each ledger its own stage" in err
    code, _, err = _gate(capsys, tmp_path, second)
    assert code == 3 and "the stage is filled by another ledger" in err
    assert _results(tmp_path)["decision"] == "could not decide"
    assert sorted(path.name for path in paths["stage"].iterdir()) == [f"delta{n}.csv" for n in range(5)]


# --- property: whatever is changed, the gate never approves bytes other than those ingested -------

_MUTATIONS = st.one_of(
    st.tuples(st.just("flip_byte"), st.integers(0, 2), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("append"), st.integers(0, 2), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("truncate"), st.integers(0, 2), st.integers(0, 200)),
    st.tuples(st.just("swap_files"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("delete_file"), st.integers(0, 2)),
    st.tuples(st.just("stray_file"), st.sampled_from(["delta3.csv", "users.csv", "sub/delta0.csv", ".hidden"])),
    st.tuples(st.just("ledger_sha"), st.integers(0, 2), st.sampled_from(["match_the_file", "random"])),
    st.tuples(st.just("ledger_name"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("ledger_rows"), st.integers(0, 2), st.integers(0, 10)),
    st.tuples(st.just("ledger_delete_events"), st.integers(0, 2)),
)


def _mutate(mutation: tuple, stage: Path, ledger: Path) -> None:
    kind, *arguments = mutation
    files = [stage / f"delta{n}.csv" for n in range(3)]
    if kind == "flip_byte":
        index, offset, xor = arguments
        data = bytearray(files[index].read_bytes()) if files[index].exists() else bytearray()
        if data:
            data[offset % len(data)] ^= xor
            files[index].write_bytes(bytes(data))
    elif kind == "append" and files[arguments[0]].exists():
        files[arguments[0]].write_bytes(files[arguments[0]].read_bytes() + arguments[1])
    elif kind == "truncate" and files[arguments[0]].exists():
        files[arguments[0]].write_bytes(files[arguments[0]].read_bytes()[: arguments[1]])
    elif kind == "swap_files" and all(files[i].exists() for i in arguments):
        first, second = (files[i].read_bytes() for i in arguments)
        files[arguments[0]].write_bytes(second)
        files[arguments[1]].write_bytes(first)
    elif kind == "delete_file":
        files[arguments[0]].unlink(missing_ok=True)
    elif kind == "stray_file":
        (stage / arguments[0]).parent.mkdir(exist_ok=True)
        (stage / arguments[0]).write_bytes(files[0].read_bytes() if files[0].exists() else b"x")
    else:
        _mutate_ledger(kind, arguments, files, ledger)


def _mutate_ledger(kind: str, arguments: list, files: list[Path], ledger: Path) -> None:
    index = arguments[0]
    object_id = index + 1  # ingested in feed order: delta0 is object 1
    connection = sqlite3.connect(ledger)
    with connection:
        if kind == "ledger_sha":
            sha = hashlib.sha256(files[index].read_bytes()).hexdigest() if arguments[1] == "match_the_file" and files[index].exists() else "0" * 64
            connection.execute("UPDATE objects SET plaintext_sha256 = ? WHERE id = ?", (sha, object_id))
        elif kind == "ledger_name":
            connection.execute("UPDATE objects SET staged_name = ? WHERE id = ?", (f"delta{arguments[1]}.csv", object_id))
        elif kind == "ledger_rows":
            connection.execute("UPDATE objects SET rows = ? WHERE id = ?", (arguments[1], object_id))
        elif kind == "ledger_delete_events":
            connection.execute("DELETE FROM events WHERE object_id = ?", (object_id,))
    connection.close()


@pytest.fixture(scope="module")
def ingested_small_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder source of three deltas, ingested once; each example works on a copy of stage and ledger."""
    root = tmp_path_factory.mktemp("ingested")
    drops = root / "drops"
    drops.mkdir()
    for number, data in enumerate(small_feed()):
        (drops / f"delta{number}.csv").write_bytes(data)
    with Ledger(root / "ledger.sqlite") as ledger:
        assert ingest(source(drops), root / "stage", ledger).passed
    gx_dir = root / "gx"
    gx_dir.mkdir()
    shutil.copy(PROJECT_GX / "great_expectations.yml", gx_dir)
    return root


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)
@given(mutations=st.lists(_MUTATIONS, min_size=1, max_size=3))
def test_gate_never_approves_bytes_other_than_those_ingested(ingested_small_feed: Path, mutations: list[tuple]) -> None:
    import tempfile

    root = ingested_small_feed
    ingested = {path.name: path.read_bytes() for path in (root / "stage").iterdir()}
    with tempfile.TemporaryDirectory(dir=root) as work:
        work = Path(work)
        for name in ("stage", "stage.checks"):
            shutil.copytree(root / name, work / name)
        shutil.copy(root / "ledger.sqlite", work / "ledger.sqlite")
        for mutation in mutations:
            _mutate(mutation, work / "stage", work / "ledger.sqlite")
        stage_now = {
            path.relative_to(work / "stage").as_posix(): path.read_bytes() for path in (work / "stage").rglob("*") if path.is_file()
        }

        try:
            with Ledger(work / "ledger.sqlite") as ledger:
                report = gate(source(root / "drops"), ledger, work / "stage", out_dir=work / "out", gx_dir=root / "gx",
                              cadence=None, build_docs=False)
        except ChecksError as error:
            assert error.exit_code == 3, error  # the ledger itself was found damaged: no decision at all
            return

    if report.passed:
        # "Safe to load" only for exactly the ingested bytes, and a manifest naming exactly them.
        assert stage_now == ingested
        assert {entry.file: entry.sha256 for entry in report.manifest} == {
            name: hashlib.sha256(data).hexdigest() for name, data in ingested.items()
        }
    else:
        approved = {entry.file: entry.sha256 for entry in report.manifest}
        assert all(hashlib.sha256(ingested[name]).hexdigest() == sha for name, sha in approved.items())

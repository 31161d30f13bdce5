"""Progress at a terminal: each stage of a run on its own line, a bar for the per-file work, nothing when piped."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from checks import output
from checks.config import load_case
from checks.runner import run_case

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=screen, force_terminal=True, width=100, highlight=False))
    monkeypatch.delenv("CI", raising=False)
    return screen


@pytest.mark.slow
def test_every_stage_of_a_run_shows_with_its_time(terminal: io.StringIO, tmp_path: Path) -> None:
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    with output.stage_progress() as on_stage:
        result = run_case(case, out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False, on_stage=on_stage)

    shown = terminal.getvalue()
    files = len(result.feed.validations)
    for stage in result.timings:
        assert stage in shown, stage
    assert f"{files}/{files}" in shown
    assert shown.count("✓") >= len(result.timings)


def test_nothing_is_shown_when_not_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=screen, force_terminal=False))
    with output.stage_progress() as on_stage:
        on_stage("validate deltas", 1, 5)
    assert screen.getvalue() == ""


def test_ci_gets_no_progress(terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with output.stage_progress() as on_stage:
        on_stage("read tables")
    assert terminal.getvalue() == ""

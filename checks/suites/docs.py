"""The run's Data Docs: this run's pages rendered, older runs pruned, the pages made self-contained and true to each table."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from checks.suites.gx import DATASOURCE, render_data_docs
from checks.suites.suite import TableNames


RUN_NAME = "checks"
KEEP_RUNS = 20
SITE = "local_site"
DOCS_INDEX = Path("uncommitted") / "data_docs" / SITE / "index.html"


def site_index(gx_dir: Path) -> Path:
    """The Data Docs site's index page for a GX project folder (known before the site is built)."""
    return Path(gx_dir).resolve() / DOCS_INDEX


def name_data_asset(validation: Any, name: str) -> None:
    """Data Docs read the asset's name from the batch spec, where GX 1.x's file assets leave it out ("Data asset: None"):
    name it for the feed's table and the table validated ("user_summary: platform")."""
    spec = validation.meta.get("batch_spec")
    if isinstance(spec, dict):
        spec["data_asset_name"] = name
    else:
        validation.meta["batch_spec"] = {"data_asset_name": name}


def prune_runs(gx_dir: Path, suite_name: str, keep_runs: int) -> None:
    """Keep the last ``keep_runs`` runs' results and pages.

    GX's index page loads every stored result (about 3 ms each), so an unbounded history would
    make every docs build slower than the last.
    """
    store = gx_dir / "uncommitted" / "validations" / suite_name / RUN_NAME
    pages = gx_dir / "uncommitted" / "data_docs" / SITE / "validations" / suite_name / RUN_NAME
    if not store.is_dir():
        return
    runs = sorted(path.name for path in store.iterdir() if path.is_dir())
    for run in runs[: max(len(runs) - keep_runs, 0)]:
        shutil.rmtree(store / run, ignore_errors=True)
        shutil.rmtree(pages / run, ignore_errors=True)


def build_site(
    context: Any, gx_dir: Path, suite_name: str, result_ids: list, run_time: datetime, names: TableNames
) -> tuple[Path, dict[str, Path]]:
    """Render only this run's pages, the suite page and the index, then make them self-contained and show
    only the tables' own columns. Returns the index and each table's validation page."""
    from checks.data_docs import group_digits, make_self_contained, present_helper_column

    render_data_docs(context, SITE, suite_name, result_ids)
    site_dir = gx_dir / "uncommitted" / "data_docs" / SITE
    run_folder = site_dir / "validations" / suite_name / RUN_NAME / run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    pages = [site_dir / "index.html", *sorted(run_folder.glob("*.html")), *sorted((site_dir / "expectations").glob("*.html"))]
    make_self_contained(site_dir, pages)
    for page in pages[1:]:
        present_helper_column(
            page, names.latest, described_as=f"{names.key} known to the feed", statement=names.latest_statement
        )
        group_digits(page)
    tables = {page.stem.removeprefix(f"{DATASOURCE}-"): page for page in sorted(run_folder.glob(f"{DATASOURCE}-*.html"))}
    return site_index(gx_dir), tables

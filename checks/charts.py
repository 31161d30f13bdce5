"""Charts of a diagnosis (PNG and SVG): the gap by root cause, the gap by delta file, stale users by batch range.

matplotlib is imported inside ``render_charts`` (Agg backend) so that importing the package stays fast.
Labels from files are drawn as plain text: math parsing is off, so ``$`` in a name is just a dollar sign.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from checks.dedup import SOURCE_FILE
from checks.diagnose import Diagnosis
from checks.reconcile import MATCH, STALE, SPEND_GAP
from checks.writers import atomic_write_bytes

GAP_BY_ROOT_CAUSE = "gap-by-root-cause"
GAP_BY_FILE = "gap-by-file"
STALE_BY_BATCH = "stale-users-by-batch"
CHART_NAMES: tuple[str, ...] = (GAP_BY_ROOT_CAUSE, GAP_BY_FILE, STALE_BY_BATCH)
_BLUE, _GREY, _RED = "#2b6cb0", "#a0aec0", "#c53030"


def render_charts(diagnosis: Diagnosis, out_dir: Path) -> dict[str, list[Path]]:
    """Write each chart as ``<name>.png`` and ``<name>.svg`` in ``out_dir``; returns the paths by chart name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: dict[str, list[Path]] = {}
    with plt.rc_context({"text.parse_math": False, "svg.fonttype": "none", "font.size": 10}):
        for name, draw in ((GAP_BY_ROOT_CAUSE, _by_root_cause), (GAP_BY_FILE, _by_file), (STALE_BY_BATCH, _stale)):
            figure, axes = plt.subplots(figsize=(8, 4.2), layout="constrained")
            try:
                draw(axes, diagnosis)
                written[name] = [_save(figure, Path(out_dir) / f"{name}.{suffix}", suffix) for suffix in ("png", "svg")]
            finally:
                plt.close(figure)
    return written


def _save(figure, path: Path, suffix: str) -> Path:
    buffer = io.BytesIO()
    # A fixed date keeps the SVG and PNG identical from one run to the next.
    metadata = {"Date": None} if suffix == "svg" else {"Software": "checks"}
    figure.savefig(buffer, format=suffix, dpi=120, metadata=metadata)
    return atomic_write_bytes(path, buffer.getvalue())


def _by_root_cause(axes, diagnosis: Diagnosis) -> None:
    labels = [cause.kind.replace("_", " ") + (f"\n{cause.file}" if cause.file else "") for cause in diagnosis.root_causes]
    values = [cause.revenue_gap for cause in diagnosis.root_causes]
    colours = [_BLUE] * len(values)
    if diagnosis.unexplained_users:
        labels.append("unexplained")
        values.append(diagnosis.unexplained_gap)
        colours.append(_GREY)
    _bars(axes, labels, values, colours)
    axes.set_title(f"Revenue gap by root cause (total gap ${diagnosis.gap:,})")


def _by_file(axes, diagnosis: Diagnosis) -> None:
    users = diagnosis.reconciliation.users
    off = users[users["class"].ne(MATCH)]
    where = off[SOURCE_FILE].astype(object).where(off[SOURCE_FILE].notna(), "not in the feed")
    per_file = off[SPEND_GAP].groupby(where.to_numpy()).sum()
    order = [name for name in diagnosis.files if name in per_file.index] + [
        name for name in per_file.index if name not in diagnosis.files
    ]
    per_file = per_file.reindex(order)
    _bars(axes, list(per_file.index), [int(value) for value in per_file.to_numpy()], [_BLUE] * len(per_file))
    axes.set_title("Revenue gap by the delta file holding each user's latest row")


def _stale(axes, diagnosis: Diagnosis) -> None:
    users = diagnosis.reconciliation.users
    stale = users[users["class"].eq(STALE)]
    axes.set_title(f"Stale users by batch_id range ({len(stale):,} users)")
    axes.set_xlabel("batch_id")
    axes.set_ylabel("users")
    if stale.empty:
        axes.text(0.5, 0.5, "no stale users", ha="center", va="center", transform=axes.transAxes)
        return
    platform = stale["platform_batch_id"].to_numpy(dtype="float64")
    latest = stale["expected_batch_id"].to_numpy(dtype="float64")
    edges = np.histogram_bin_edges(np.concatenate([platform, latest]), bins=30)
    axes.hist(platform, bins=edges, color=_RED, alpha=0.7, label="batch_id the platform holds")
    axes.hist(latest, bins=edges, color=_BLUE, alpha=0.7, label="latest batch_id in the feed")
    axes.legend(frameon=False)


def _bars(axes, labels: list[str], values: list[int], colours: list[str]) -> None:
    if not values:
        axes.text(0.5, 0.5, "no gap", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    positions = np.arange(len(values))
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, labels=labels)
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("dollars (expected minus platform)")
    axes.xaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    for position, value in zip(positions, values):
        axes.annotate(f" ${value:,} ", (value, position), va="center", ha="left" if value >= 0 else "right")
    axes.margins(x=0.25)
    axes.spines[["top", "right"]].set_visible(False)

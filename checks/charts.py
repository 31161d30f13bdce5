"""Charts of a diagnosis (PNG and SVG): the gap by root cause, the gap by delta file, stale users by batch range;
and of a feed's history (rows and amount added per delta over time, anomalies marked).

matplotlib is imported inside ``draw_charts`` (bare figures, no pyplot) so that importing the package stays fast.
Labels from files are drawn as plain text: math parsing is off, so ``$`` in a name is just a dollar sign.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from checks.diagnose import Diagnosis, cause_label
from checks.model import CLASS, SOURCE_FILE, side_column
from checks.reconcile import MATCH, SPEND_GAP, STALE
from checks.results import UsersElsewhere
from checks.wording import Words, capitalised
from checks.writers import atomic_write_bytes

GAP_BY_ROOT_CAUSE = "gap-by-root-cause"
GAP_BY_FILE = "gap-by-file"
STALE_BY_BATCH = "stale-users-by-batch"
CHART_NAMES: tuple[str, ...] = (GAP_BY_ROOT_CAUSE, GAP_BY_FILE, STALE_BY_BATCH)


def chart_headings(words: Words) -> dict[str, str]:
    """Each chart's heading on the incident page, in the feed's words: of the gap in dollars, or of the keys that
    differ where the feed has no amount."""
    keys = words.keys
    gap = "The gap" if words.has_amount else f"{capitalised(keys)} that differ"
    return {
        GAP_BY_ROOT_CAUSE: f"{gap} by root cause",
        GAP_BY_FILE: f"{gap} by the file holding each {words.key_word}'s latest row",
        STALE_BY_BATCH: f"{capitalised(keys)} holding an older row, by {words.version}",
    }


_BLUE, _GREY, _RED = "#2b6cb0", "#a0aec0", "#c53030"
_NOT_IN_FEED = "not in the feed"


def import_matplotlib() -> None:
    """Import what ``draw_charts`` draws with (a third of a second); a runner may do it ahead of use."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401


@dataclass(frozen=True)
class Bars:
    """Horizontal bars of dollars (or of keys, for a feed without an amount): one label, value (as the axis reads),
    text and colour a bar."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    texts: tuple[str, ...]
    colours: tuple[str, ...]
    axis: str = "dollars (expected minus platform)"
    money_prefix: str | None = "$"  # before an amount on the axis ("€"); None: the bars count keys


@dataclass(frozen=True)
class Histograms:
    """Counts over equal bins, one series a colour; ``empty`` is the text shown instead when there is nothing."""

    title: str
    xlabel: str
    ylabel: str
    series: tuple[tuple[np.ndarray, np.ndarray, str, str], ...]  # (counts, edges, colour, label)
    empty: str | None = None


def chart_specs(diagnosis: Diagnosis) -> dict[str, Bars | Histograms]:
    """What each chart shows, by name: a few numbers and words computed from the diagnosis, small enough to hand
    to another process (the users behind them stay here)."""
    return {GAP_BY_ROOT_CAUSE: _by_root_cause(diagnosis), GAP_BY_FILE: _by_file(diagnosis), STALE_BY_BATCH: _stale(diagnosis)}


def chart_paths(out_dir: Path) -> dict[str, list[Path]]:
    """The files ``draw_charts`` writes, by chart name (PNG first), known before they are drawn."""
    return {name: [Path(out_dir) / f"{name}.png", Path(out_dir) / f"{name}.svg"] for name in CHART_NAMES}


def draw_charts(specs: dict[str, Bars | Histograms], out_dir: Path) -> dict[str, list[Path]]:
    """Draw each chart with matplotlib and write it as PNG and SVG (``chart_paths``)."""
    import matplotlib
    from matplotlib.figure import Figure

    written: dict[str, list[Path]] = {}
    paths = chart_paths(out_dir)
    # A fixed salt gives the SVG's element ids from one run to the next: same diagnosis, same bytes.
    style = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "checks", "font.size": 10}
    with matplotlib.rc_context(style):
        for name, spec in specs.items():
            # A bare Figure (no pyplot): nothing global to register, nothing to close.
            figure = Figure(figsize=(8, 4.2), layout="constrained")
            (_draw_bars if isinstance(spec, Bars) else _draw_histograms)(figure.subplots(), spec)
            png_path, svg_path = paths[name]
            png = _save(figure, png_path, "png")
            # The layout is settled by the first save; the SVG reuses it rather than measuring every label again.
            figure.set_layout_engine("none")
            written[name] = [png, _save(figure, svg_path, "svg")]
    return written


def _save(figure, path: Path, suffix: str) -> Path:
    buffer = io.BytesIO()
    # A fixed date keeps the SVG and PNG identical from one run to the next.
    metadata = {"Date": None} if suffix == "svg" else {"Software": "checks"}
    figure.savefig(buffer, format=suffix, dpi=120, metadata=metadata)
    return atomic_write_bytes(path, buffer.getvalue())


def _by_root_cause(diagnosis: Diagnosis) -> Bars:
    words = diagnosis.words
    labels = [cause_label(cause.kind, words) + (f"\n{cause.file}" if cause.file else "") for cause in diagnosis.root_causes]
    # Dollars where the feed has an amount; else the keys each cause explains, the numbers its share divides.
    values = [cause.revenue_gap if words.has_amount else cause.users for cause in diagnosis.root_causes]
    colours = [_BLUE] * len(values)
    if diagnosis.unexplained_users:
        labels.append("unexplained")
        values.append(diagnosis.unexplained_gap if words.has_amount else diagnosis.unexplained_users)
        colours.append(_GREY)
    total = f"total gap {words.money(diagnosis.gap)}" if words.has_amount else words.count(diagnosis.reconciliation.discrepant_users)
    return _bars(f"{_gap_title(words)} by root cause ({total})", labels, values, colours, words)


def _by_file(diagnosis: Diagnosis) -> Bars:
    words = diagnosis.words
    per_file = _gap_by_file(diagnosis) if words.has_amount else _discrepant_by_file(diagnosis)
    title = f"{_gap_title(words)} by the delta file holding each {words.key_word}'s latest row"
    return _bars(title, list(per_file), list(per_file.values()), [_BLUE] * len(per_file), words)


def _gap_title(words: Words) -> str:
    """What a chart of the gap shows, as the tables' gap column names it: "Spend gap"; the keys that differ without an
    amount."""
    return capitalised(words.gap_heading) if words.gap_heading else f"{capitalised(words.keys)} that differ"


def _gap_by_file(diagnosis: Diagnosis) -> dict[str, int]:
    """The gap of the users that do not match, summed by the file of their latest row, in feed order."""
    return _by_latest_file(diagnosis, counted=False)


def _discrepant_by_file(diagnosis: Diagnosis) -> dict[str, int]:
    """How many users do not match, by the file of their latest row, in feed order."""
    return _by_latest_file(diagnosis, counted=True)


def _by_latest_file(diagnosis: Diagnosis, *, counted: bool) -> dict[str, int]:
    """The users that do not match, counted or their gaps summed, by the file of their latest row, in feed order."""
    users = diagnosis.reconciliation.users
    if isinstance(users, UsersElsewhere):  # an engine's (Spark): summed where the rows are
        sums = pd.Series(users.discrepant_by_file() if counted else users.gap_by_file(), dtype="object")
    else:
        # Columns, not rows: a row filter of the whole table copies every column of millions of users.
        off = np.flatnonzero(users[CLASS].ne(MATCH).to_numpy(dtype=bool))
        files = users[SOURCE_FILE].iloc[off].reset_index(drop=True)
        gaps = pd.Series(np.ones(len(off), dtype="int64") if counted else users[SPEND_GAP].to_numpy()[off])
        sums = gaps.groupby(files, dropna=False, observed=True).sum()
    per_file = {(_NOT_IN_FEED if pd.isna(name) else str(name)): int(total) for name, total in sums.items()}
    order = [name for name in diagnosis.files if name in per_file] + sorted(set(per_file) - set(diagnosis.files))
    return {name: per_file[name] for name in order}


def _stale(diagnosis: Diagnosis) -> Histograms:
    users, words = diagnosis.reconciliation.users, diagnosis.words
    version, keys = words.version, words.keys
    columns = (side_column("platform", version), side_column("expected", version))
    if isinstance(users, UsersElsewhere):  # an engine's (Spark): counted where the rows are
        count, counted = users.histograms(STALE, columns, bins=30)
    else:
        stale = users[CLASS].eq(STALE).to_numpy(dtype=bool)
        count = int(stale.sum())
    title = f"Stale {keys} by {version} range ({count:,} {keys})"
    xlabel = version + ("" if words.encoding.codecs[version].column.logical_type == "integer" else " (microseconds or days since 1970)")
    if not count:
        return Histograms(title, xlabel, keys, series=(), empty=f"no stale {keys}")
    if not isinstance(users, UsersElsewhere):
        platform, latest = (users[column].to_numpy()[stale].astype("float64") for column in columns)
        span = (min(platform.min(), latest.min()), max(platform.max(), latest.max()))
        # matplotlib draws the counts; it need not see the millions of users behind them. Equal bins over
        # the span are counted arithmetically (numpy keeps them consistent with the edges it returns).
        counted = [np.histogram(batches, bins=30, range=span) for batches in (platform, latest)]
    labels = ((_RED, f"{version} the platform holds"), (_BLUE, f"latest {version} in the feed"))
    series = [(counts, edges, colour, label) for (counts, edges), (colour, label) in zip(counted, labels)]
    return Histograms(title, xlabel, keys, series=tuple(series))


def _bars(title: str, labels: list[str], values: list[int], colours: list[str], words: Words) -> Bars:
    """Bars of dollars, or for a feed without an amount of keys (``values`` are then counts)."""
    if not words.has_amount:
        texts = [f"{value:,}" for value in values]
        counts = tuple(float(value) for value in values)
        return Bars(title, tuple(labels), counts, tuple(texts), tuple(colours), axis=words.keys, money_prefix=None)
    texts = [words.money(value) for value in values]
    amount = words.encoding.contract.amount
    scale = 10 ** (amount.decimal[1] if amount is not None and amount.decimal else 0)
    shown = [value / scale for value in values]  # in whole units of the currency, as the axis reads
    axis = f"{words.money_word} (expected minus platform)"
    return Bars(title, tuple(labels), tuple(shown), tuple(texts), tuple(colours), axis=axis, money_prefix=words.currency_prefix)


def _draw_bars(axes, bars: Bars) -> None:
    if not bars.values:
        axes.text(0.5, 0.5, "no gap", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    else:
        positions = np.arange(len(bars.values))
        axes.barh(positions, bars.values, color=list(bars.colours))
        axes.set_yticks(positions, labels=list(bars.labels))
        axes.invert_yaxis()
        axes.axvline(0, color="black", linewidth=0.8)
        axes.set_xlabel(bars.axis)
        axes.xaxis.set_major_formatter(lambda value, _: f"{bars.money_prefix or ''}{value:,.0f}")
        for position, value, text in zip(positions, bars.values, bars.texts):
            axes.annotate(f" {text} ", (value, position), va="center", ha="left" if value >= 0 else "right")
        axes.margins(x=0.25)
        axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(bars.title)


def _draw_histograms(axes, histograms: Histograms) -> None:
    axes.set_title(histograms.title)
    axes.set_xlabel(histograms.xlabel)
    axes.set_ylabel(histograms.ylabel)
    if histograms.empty is not None:
        axes.text(0.5, 0.5, histograms.empty, ha="center", va="center", transform=axes.transAxes)
        return
    for counts, edges, colour, label in histograms.series:
        axes.hist(edges[:-1], bins=edges, weights=counts, color=colour, alpha=0.7, label=label)
    axes.legend(frameon=False)


def render_history_chart(
    arrived: list[datetime],
    files: list[str],
    rows: list[int],
    added: list[int | None],
    flagged: tuple[list[bool], list[bool]],
    words: Words,
) -> str:
    """A feed's update deltas over time, as SVG text: rows and amount added per delta by arrival, anomalies in red.

    ``flagged`` marks each delta's volume anomaly and amount anomaly, in that order.
    The caller leaves the base (the first, full export) out: it would flatten the updates' scale.
    """
    import matplotlib
    from matplotlib.figure import Figure

    style = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "checks", "font.size": 9}
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(8, 4.6), layout="constrained")
        row_axes, amount_axes = figure.subplots(2, 1, sharex=True)
        amount = words.encoding.contract.amount
        scale = 10 ** (amount.decimal[1] if amount is not None and amount.decimal else 0)
        series = [(row_axes, rows, "rows per delta", 1, flagged[0])]
        if amount is not None:
            amounts = [value if value is not None else np.nan for value in added]
            series.append((amount_axes, amounts, f"{amount.name} added", scale, flagged[1]))
        else:
            amount_axes.set_axis_off()
        for axes, values, label, divisor, marks in series:
            shown = np.asarray(values, dtype="float64") / divisor
            axes.plot(arrived, shown, color=_BLUE, marker="o", linewidth=1)
            marked = np.asarray(marks, dtype=bool)
            if marked.any():
                axes.scatter(np.asarray(arrived, dtype=object)[marked], shown[marked], color=_RED, marker="X", s=80,
                             zorder=3, label="anomaly")
                axes.legend(frameon=False, loc="best")
            for when, value, name in zip(arrived, shown, files):
                axes.annotate(name, (when, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
            axes.set_ylabel(label)
            axes.spines[["top", "right"]].set_visible(False)
            axes.margins(y=0.25)
        if amount is not None:
            amount_axes.yaxis.set_major_formatter(lambda value, _: words.money(round(value * scale)))
        figure.autofmt_xdate()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()

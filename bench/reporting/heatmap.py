"""The method × protocol heat-map of a matrix run: one primary-metric value per cell, as a PNG.

Rows are methods, columns protocols; a cell shows its mean (×100 for classification and
multilabel scores, as tables do) and is coloured by it on one scale per column (columns may
hold different metrics: UAR, CCC, RMSE): the metric's own range where it has one (0-100 %,
-1..1 for a correlation), else the column's lowest to highest value. Lower-is-better columns
are drawn with the colour map reversed, so darker is always better. A cell that did not run is grey with its short
reason ("n/a"); one that ran but has no record yet is blank. Drawn with matplotlib's Agg
canvas (no display, no global backend switch).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

NOT_RUN = "n/a"


def heatmap_png(methods: Sequence[str], columns: Sequence[str], values: np.ndarray, texts: Sequence[Sequence[str]],
                higher_is_better: Sequence[bool], ranges: Sequence[tuple[float, float] | None], title: str) -> bytes:
    """A PNG of ``values`` (``[methods, columns]``, NaN where there is no number) with ``texts`` written in.

    Column ``j`` is mapped to [0, 1] from ``ranges[j]`` (None: its finite values' lowest to
    highest, all equal: 0.5) before colouring; ``higher_is_better[j]`` False flips it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(methods), len(columns)) or len(texts) != len(methods) \
            or any(len(row) != len(columns) for row in texts) or len(higher_is_better) != len(columns) \
            or len(ranges) != len(columns):
        raise ValueError(f"heat-map of {len(methods)} × {len(columns)} cells got values {values.shape} "
                         "and texts/directions of other sizes")
    shade = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        column = values[:, j]
        finite = np.isfinite(column)
        if not finite.any():
            continue
        low, high = ranges[j] if ranges[j] is not None else (column[finite].min(), column[finite].max())
        scaled = np.clip((column - low) / (high - low), 0, 1) if high > low else np.where(finite, 0.5, np.nan)
        shade[:, j] = scaled if higher_is_better[j] else 1.0 - scaled
    fig = Figure(figsize=(2.0 + 1.3 * len(columns), 1.2 + 0.45 * len(methods)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#dddddd")
    ax.imshow(np.ma.masked_invalid(shade), vmin=0.0, vmax=1.0, cmap="Blues", aspect="auto")
    ax.set_xticks(np.arange(len(columns)), labels=list(columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(methods)), labels=list(methods), fontsize=8)
    for i in range(len(methods)):
        for j in range(len(columns)):
            dark = np.isfinite(shade[i, j]) and shade[i, j] > 0.6
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()

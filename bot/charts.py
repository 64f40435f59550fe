"""Drawing a reply's chart as a PNG, for the channels that show pictures."""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.contract import Chart


def bar_chart_png(chart: Chart) -> bytes:
    """Horizontal bars with their counts, readable on a small phone screen.

    matplotlib's bundled DejaVu Sans has every Vietnamese letter, so no system font is needed."""
    # matplotlib (with numpy and Pillow) costs about a second and 40 MB: loaded at the first chart.
    import matplotlib

    matplotlib.use("Agg")  # no screen on a server
    from matplotlib.figure import Figure

    height = 1.2 + 0.6 * len(chart.labels)
    figure = Figure(figsize=(6, height), dpi=120)
    axes = figure.subplots()
    labels = [textwrap.shorten(label, 40, placeholder="…") for label in chart.labels]
    positions = list(range(len(labels)))[::-1]  # the first option on top
    bars = axes.barh(positions, chart.values, color="#c0392b")
    axes.set_yticks(positions, labels)
    axes.bar_label(bars, padding=3)
    axes.set_xlim(0, max([*chart.values, 1]) * 1.2)
    axes.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_title(textwrap.shorten(chart.title, 60, placeholder="…"), fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

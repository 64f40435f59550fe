"""Drawing a reply's chart as a PNG, for the channels that show pictures.

Drawn for a phone: Telegram and the web chat show a picture about 330 px wide on a 390 px screen, so
the image is 720 px wide and every letter at least 30 px high in it (about 14 px on the screen, the
size of the chat's own text). Each option's words stand on a line of their own above its bar, the
count beside the bar, and the rule's threshold is a dashed mark across each bar; the bars the result
picks (adopted, chosen, elected) are filled dark.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.contract import Chart

WIDTH = 720  # pixels
DPI = 120
MARGIN = 28
TITLE_PX, LABEL_PX, COUNT_PX, NOTE_PX = 36, 31, 34, 28
BAR_PX = 44
LINE = 1.3  # line height, in font sizes
COUNT_ROOM = 110  # right of the longest bar, for its count
BAR_COLOUR, PASSED_COLOUR, INK, RULE_INK = "#e8a09a", "#c0392b", "#1d1d1d", "#333333"
TITLE_CHARS, LABEL_CHARS = 30, 36  # per line at those sizes, DejaVu Sans being about 0.55 em a letter


def _points(pixels: float) -> float:
    return pixels * 72 / DPI


def _lines(text: str, width: int, most: int) -> list[str]:
    """``text`` wrapped at words into at most ``most`` lines, the last ending in "…" when cut."""
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], textwrap.shorten(" ".join(lines[most - 1 :]), width, placeholder=" …")]
    return lines


def bar_chart_png(chart: Chart) -> bytes:
    """Horizontal bars with their counts and the threshold, readable on a phone.

    matplotlib's bundled DejaVu Sans has every Vietnamese letter, so no system font is needed."""
    # matplotlib (with numpy and Pillow) costs about a second and 40 MB: loaded at the first chart.
    import matplotlib

    matplotlib.use("Agg")  # no screen on a server
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    title = _lines(chart.title, TITLE_CHARS, 3)
    labels = [_lines(label, LABEL_CHARS, 2) for label in chart.labels]
    note = chart.threshold_label if chart.threshold > 0 else ""
    # The layout, top to bottom, in pixels.
    height = MARGIN + len(title) * TITLE_PX * LINE + (NOTE_PX * LINE + 8 if note else 0) + MARGIN / 2
    rows = []
    for lines in labels:
        rows.append(height)
        height += len(lines) * LABEL_PX * LINE + BAR_PX + MARGIN
    height += MARGIN / 2

    figure = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, facecolor="white")
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, WIDTH)
    axes.set_ylim(height, 0)  # pixels, from the top
    axes.set_axis_off()

    y: float = MARGIN
    for line in title:
        axes.text(MARGIN, y, line, fontsize=_points(TITLE_PX), fontweight="bold", color=INK, va="top")
        y += TITLE_PX * LINE
    longest = WIDTH - 2 * MARGIN - COUNT_ROOM
    scale = longest / max([*chart.values, chart.threshold, 1])
    if note:
        y += 8
        axes.plot([MARGIN, MARGIN + 40], [y + NOTE_PX * 0.6] * 2, color=RULE_INK, linestyle="--", linewidth=3)
        axes.text(MARGIN + 52, y, note, fontsize=_points(NOTE_PX), color=RULE_INK, va="top")

    for index, (top, lines, value) in enumerate(zip(rows, labels, chart.values, strict=True)):
        for i, line in enumerate(lines):
            axes.text(MARGIN, top + i * LABEL_PX * LINE, line, fontsize=_points(LABEL_PX), color=INK, va="top")
        bar_y = top + len(lines) * LABEL_PX * LINE + 4
        if chart.chosen is not None and chart.threshold > 0:
            picked = index in chart.chosen  # reaching the mark is not winning it (a tie for a seat)
        else:
            picked = chart.threshold == 0 or value >= chart.threshold
        length = max(value * scale, 6)  # a zero still shows where its bar would be
        colour = PASSED_COLOUR if picked else BAR_COLOUR
        axes.add_patch(Rectangle((MARGIN, bar_y), length, BAR_PX, color=colour))
        if chart.threshold > 0:  # across the bar only, so the words above stay clear
            x = MARGIN + chart.threshold * scale
            axes.plot([x, x], [bar_y - 8, bar_y + BAR_PX + 8], color=RULE_INK, linestyle=(0, (3, 2)), linewidth=3)
        axes.text(
            MARGIN + length + 14,
            bar_y + BAR_PX / 2,
            str(value),
            fontsize=_points(COUNT_PX),
            fontweight="bold",
            color=INK,
            va="center",
        )

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()

"""Plot pieces shared by the training monitor and the runs dashboard (pyqtgraph)."""
from __future__ import annotations

import math

import pyqtgraph as pg


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values (steps of 1, 2 or 5 times a power of ten) from lo to hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return []
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    values = []
    k = first
    while k * step <= hi * (1 + 1e-12):
        values.append(round(k * step, 12))
        k += 1
    return values


class LogAxis(pg.AxisItem):
    """A log-scale axis that always shows numbers.

    pyqtgraph labels a log axis at powers of ten and their 2…9 multiples only, so a training loss
    between 2.2 and 2.9 (its first minutes) had no numbers at all. Within 1.5 decades the ticks are round
    values of the quantity itself (2.2, 2.4, 2.6, …) placed on the log scale; wider ranges keep
    pyqtgraph's decades."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 - pyqtgraph's names
        if maxVal - minVal > 1.5:
            return super().logTickValues(minVal, maxVal, size, stdTicks)
        values = nice_ticks(10 ** minVal, 10 ** maxVal, max(2, min(6, int(size / 45))))
        return [(None, [math.log10(v) for v in values if v > 0])]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [f"{10 ** v:.3g}" for v in values]


def log_plot() -> pg.PlotWidget:
    """A plot whose y axis is logarithmic and labelled at any range (LogAxis)."""
    plot = pg.PlotWidget(axisItems={"left": LogAxis("left")})
    plot.setLogMode(y=True)
    return plot

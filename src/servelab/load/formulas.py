"""The formula printed beside every load figure: the load metrics of servelab.metrics."""

from __future__ import annotations

from servelab.metrics import LOAD_METRICS

FORMULAS: dict[str, str] = {
    key.removeprefix("load_"): metric.text for key, metric in LOAD_METRICS.items()
}

"""Two stored stack versions side by side: the post's "what changed" table.

Throughput change = mean_B / mean_A − 1 over each bench's non-cold single-stream runs, with the
95 % interval of that ratio by Fieller's theorem (see report/ratio.py). A reported result
without published σ and n has a mean but no interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from servelab import metrics
from servelab.errors import BadInput
from servelab.recipe import load_recipe
from servelab.records import BenchResult
from servelab.report.board import latest_benches
from servelab.report.format import (
    context_text,
    engine_text,
    gpu_text,
    mark,
    markdown_table,
    number,
    percent,
)
from servelab.report.headline import Headline, headline, measured_values
from servelab.report.load_board import latest_loads, load_figures
from servelab.report.ratio import RatioInterval, fieller, fieller_from_stats
from servelab.store import Store

METHOD = f"95 % CI of {metrics.CHANGE.formula} by Fieller's theorem (t with Welch–Satterthwaite df)"


class Side(BaseModel):
    stack: str
    version: str
    bench_id: str | None
    reported: bool
    n: int | None
    mean: float | None
    stdev: float | None


class Comparison(BaseModel):
    """The table rows and the throughput change with its interval."""

    a: Side
    b: Side
    rows: list[tuple[str, str, str]]
    change_pct: float | None
    change_ci95_pct: list[float] | None
    method: str = METHOD

    def contract(self) -> dict[str, Any]:
        data = self.model_dump()
        data["rows"] = [{"field": f, "a": a, "b": b} for f, a, b in self.rows]
        return data


def parse_side(text: str) -> tuple[str, str | None]:
    """``stack`` or ``stack@version``."""
    stack, _, version = text.partition("@")
    if not stack or (text.endswith("@") and not version):
        raise BadInput(f"{text!r}: expected STACK or STACK@VERSION")
    return stack, version or None


def find_bench(store: Store, text: str) -> BenchResult:
    """A bench by id (complete only), else the latest complete bench of a stack (version):
    measured first, else reported."""
    by_id = store.bench_or_none(text)
    if by_id is not None:
        if by_id.status != "complete":
            why = f": {by_id.reason}" if by_id.reason else ""
            raise BadInput(f"bench {text} is {by_id.status}{why}; only valid evidence compares")
        return by_id
    stack, version = parse_side(text)
    found = [
        bench
        for bench in latest_benches(store)
        if bench.provenance.stack == stack
        and (version is None or bench.provenance.stack_version == version)
    ]
    if not found:
        raise BadInput(f"{text}: no complete bench stored for it (run `servelab bench` first)")
    measured = [bench for bench in found if not bench.reported] or found
    best = max(measured, key=lambda bench: bench.started_at)
    return store.bench(best.id) if best.id else best


def _side(bench: BenchResult, numbers: Headline) -> Side:
    return Side(
        stack=bench.provenance.stack,
        version=bench.provenance.stack_version,
        bench_id=bench.id,
        reported=bench.reported,
        n=numbers.n or None,
        mean=numbers.mean,
        stdev=numbers.stdev,
    )


def change_interval(a: BenchResult, b: BenchResult) -> RatioInterval | None:
    """b/a from the run sets (or published mean, σ, n when a side has no stored runs)."""
    values_a, values_b = measured_values(a), measured_values(b)
    if values_a and values_b:
        return fieller(values_a, values_b)
    first, second = headline(a), headline(b)
    if not first.mean or second.mean is None:
        return None
    return fieller_from_stats(first.mean, first.stdev, first.n, second.mean, second.stdev, second.n)


def _recipe(bench: BenchResult) -> dict[str, Any] | None:
    """The stored recipe; for a reported result, the bundled recipe of that name and version."""
    if bench.provenance.recipe is not None or not bench.reported:
        return bench.provenance.recipe
    try:
        recipe = load_recipe(bench.provenance.stack)
    except BadInput:
        return None
    return recipe.canonical() if recipe.version == bench.provenance.stack_version else None


def _engine_image(bench: BenchResult) -> str:
    image = ((_recipe(bench) or {}).get("engine") or {}).get("image")
    text = engine_text(bench)
    return f"{text} ({image})" if image and image not in text else text or image or ""


def _speculation(bench: BenchResult) -> tuple[str, str]:
    """(spec decoding, drafter) from the stored recipe."""
    recipe = _recipe(bench)
    if recipe is None:
        return "unknown", "unknown"
    spec = recipe.get("speculative")
    if not spec:
        return "none", "n/a"
    k = spec.get("num_speculative_tokens")
    method = spec.get("method", "?") + (f", n={k}" if k else "")
    drafter = (spec.get("model") or {}).get("id") or "n/a"
    return method, drafter


def _regimes(bench: BenchResult) -> str:
    regimes = bench.regimes
    if regimes is None:
        return "n/a"
    if not regimes.bimodal:
        return "steady (one cluster)"
    means = ", ".join(f"{cluster.mean:.1f}" for cluster in regimes.clusters)
    return f"bimodal {regimes.pattern or ''} (cluster means {means} t/s)".replace("  ", " ")


def _throughput(numbers: Headline) -> str:
    if numbers.mean is None:
        return ""
    text = f"{numbers.mean:.2f} t/s"
    if numbers.stdev is not None:
        text += f" ± {numbers.stdev:.2f}"
    return text + (f" (n={numbers.n})" if numbers.n else "")


def _change_text(interval: RatioInterval | None) -> str:
    if interval is None:
        return ""
    text = f"{interval.change_pct:+.1f} %"
    bounds = interval.change_ci_pct
    if bounds is None:
        return text + ", no 95 % CI (needs σ and n ≥ 2 on both sides)"
    return text + f", 95 % CI {bounds[0]:+.1f} … {bounds[1]:+.1f} %"


def load_of(store: Store, bench: BenchResult) -> tuple[float | None, float | None]:
    """The bench's own load figures, else those of its stack version's latest load bench."""
    if bench.load is None and not bench.reported:
        prov = bench.provenance
        found = store.benches(prov.stack, prov.stack_version, status="complete", with_runs=False)
        bench = latest_loads(found).get((prov.stack, prov.stack_version), bench)
    return load_figures(bench)


def compare(store: Store, first: str, second: str) -> Comparison:
    """A (baseline) vs B (candidate)."""
    a, b = find_bench(store, first), find_bench(store, second)
    checks = {
        bench.id: {
            stored.result.name: stored.result.passed
            for stored in store.check_records(
                bench.provenance.stack, bench.provenance.stack_version, reported=bench.reported
            )
        }
        for bench in (a, b)
    }
    numbers_a, numbers_b = headline(a), headline(b)
    interval = change_interval(a, b)
    spec_a, spec_b = _speculation(a), _speculation(b)
    throughput_b = _throughput(numbers_b)
    if change := _change_text(interval):
        throughput_b += f" ({change})"

    def both(get: Callable[[BenchResult], str]) -> tuple[str, str]:
        return get(a), get(b)

    rows = [
        ("Stack", *both(lambda x: f"{x.provenance.stack}@{x.provenance.stack_version}")),
        ("Engine / image", *both(_engine_image)),
        ("Spec decoding", spec_a[0], spec_b[0]),
        ("Drafter", spec_a[1], spec_b[1]),
        ("Throughput", _throughput(numbers_a), throughput_b),
        ("Acceptance α", *both(lambda x: percent(x.spec.acceptance_rate if x.spec else None))),
        ("Context", *both(lambda x: context_text(x.provenance.served_context()))),
        ("Vision", *(mark(checks[x.id].get("vision")) for x in (a, b))),
        ("Tool calling", *(mark(checks[x.id].get("tools")) for x in (a, b))),
        ("Regimes / cycle", *both(_regimes)),
        ("GPU", *both(gpu_text)),
        ("Saturation t/s (load)", *(number(load_of(store, x)[0]) for x in (a, b))),
        ("Goodput req/s (load)", *(number(load_of(store, x)[1]) for x in (a, b))),
        ("Bench", *both(lambda x: f"{x.id}{' (reported)' if x.reported else ''}")),
    ]
    bounds = interval.change_ci_pct if interval else None
    return Comparison(
        a=_side(a, numbers_a),
        b=_side(b, numbers_b),
        rows=rows,
        change_pct=interval.change_pct if interval else None,
        change_ci95_pct=list(bounds) if bounds else None,
    )


def compare_markdown(result: Comparison) -> str:
    """The post's version table: | Field | A | B |."""
    headers = (
        "Field",
        f"{result.a.stack}@{result.a.version}",
        f"{result.b.stack}@{result.b.version}",
    )
    return markdown_table(headers, [list(row) for row in result.rows])

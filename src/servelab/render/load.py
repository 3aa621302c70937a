"""A load bench on the console: each level's figures (client and server side by side), the
formulas, the SLOs and the saturation point."""

from __future__ import annotations

from rich.console import Console

from servelab.load.figure_bounds import worst
from servelab.load.formulas import FORMULAS
from servelab.load.honesty import SEND_LAG_BOUND_MS
from servelab.load.records import LoadResult


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _level_lines(number: int, level) -> list[str]:
    offered = f"max concurrency {level.max_concurrency}" if level.max_concurrency else ""
    if level.request_rate:
        offered = f"{level.request_rate:.2f} req/s {level.mode}" + (
            f", cap {level.max_concurrency}" if level.max_concurrency else ""
        )
    head = f"level {number}" + (f" ({level.label})" if level.label else "")
    lines = [
        f"[bold]{head}[/]: {offered}; {level.ok}/{level.requests} ok over "
        f"{level.duration_s:.2f} s, max in flight {level.max_in_flight}"
    ]
    server = level.server
    beside = ""
    if server and server.output_tps is not None:
        beside = f" (server {server.output_tps:.1f} t/s from {server.source})"
    lines.append(
        f"  output {level.output_tps or 0:.1f} t/s{beside}, {level.request_tps or 0:.3f} req/s"
        + (f", goodput {level.goodput_rps:.3f} req/s" if level.goodput_rps is not None else "")
    )
    for key, name in (
        ("ttft_ms", "TTFT"),
        ("tpot_ms", "TPOT"),
        ("itl_ms", "ITL"),
        ("e2el_ms", "E2EL"),
    ):
        dist = getattr(level, key)
        if dist is not None:
            lines.append(
                f"  {name:<4} ms  mean {dist.mean:.2f}  σ {dist.std:.2f}  p50 {dist.p50:.2f}  "
                f"p90 {dist.p90:.2f}  p95 {dist.p95:.2f}  p99 {dist.p99:.2f}"
            )
    if server and server.decode_tps is not None and level.tpot_ms:
        lines.append(
            f"  per-request decode: client 1000 / TPOT p50 = {1000 / level.tpot_ms.p50:.1f} t/s, "
            f"server {server.decode_tps:.1f} t/s ({server.source})"
        )
    client = level.client
    if client:
        rate = ""
        if client.achieved_rate is not None:
            rate = f", achieved {client.achieved_rate:.2f} req/s, inter-arrival CV "
            rate += _ms(client.interarrival_cv)
        lines.append(
            f"  client: {client.processes} {_generators(client.fanout)}, CPU "
            f"{client.cpu_pct:.0f} % (max {client.cpu_pct_max:.0f} %), send lag p50/p99 "
            f"{_ms(client.send_lag_ms['p50'])}"
            f"/{_ms(client.send_lag_ms['p99'])} ms, loop lag p99 {_ms(client.loop_lag_ms['p99'])}"
            f" ms{rate}"
        )
        if client.figure_error_pct:
            lines.append(_bounds_text(client))
    if level.errors:
        lines.append(f"  [red]failed[/]: {'; '.join(level.errors)}")
    if level.unreliable:
        lines.append(f"  [bold yellow]UNRELIABLE, not ranked[/]: {level.unreliable}")
    return lines


def _generators(fanout: str | None) -> str:
    return f"Ray task(s) on {fanout.removeprefix('ray ').strip('()')}" if fanout else "process(es)"


def _bounds_text(client) -> str:
    """The widest error bound among each metric's figures, and the worst request's."""
    parts = []
    for key, name in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
        widest = worst(client.figure_error_pct.get(key) or {})
        if widest is None:
            continue
        late = (client.figure_late_pct or {}).get(key, {}).get(widest[0])
        parts.append(f"{name} {widest[0]} ≤ {widest[1]:.2f} % ({_ms(late)} % from late stamps)")
    text = "  error bound, widest figure: " + ", ".join(parts)
    text += f"; stamp resolution {_ms(client.stamp_resolution_ms)} ms"
    worst_request = client.stamp_error_pct or {}
    if worst_request.get("tpot") is not None:
        text += (
            f"; worst request TTFT ≤ {_ms(worst_request.get('ttft'))} %, "
            f"TPOT ≤ {_ms(worst_request['tpot'])} %"
        )
    return text


FORMULA_KEYS = (
    "duration_s",
    "output_tps",
    "request_tps",
    "ttft_ms",
    "tpot_ms",
    "itl_ms",
    "e2el_ms",
    "max_in_flight",
    "goodput_rps",
    "server_output_tps",
    "server_decode_tps",
    "client_cpu_pct",
    "send_lag_ms",
)


def render_load(load: LoadResult, console: Console) -> None:
    """Each level with its figures, then the formulas, the SLOs and the saturation."""
    for number, level in enumerate(load.levels, 1):
        for text in _level_lines(number, level):
            console.print(text, highlight=False)
    console.print("formulas:", highlight=False)
    for key in FORMULA_KEYS:
        console.print(f"  {FORMULAS[key]}", highlight=False)
    console.print(
        f"  unreliable: client CPU ≥ 90 %, any TPOT figure (mean, p50–p99) off by > 1 % or TTFT "
        f"figure by > 5 % from the client's lateness (each request's bound: how late its first "
        f"and last token were seen to be stamped; a percentile lies between the percentiles of "
        f"the requests' lowest and highest values), or send lag p99 > {SEND_LAG_BOUND_MS:g} ms",
        highlight=False,
    )
    if load.slo:
        slo = ", ".join(f"{key} ≤ {value:g}" for key, value in load.slo.items())
        console.print(f"SLO: {slo}", highlight=False)
    if load.saturation_output_tps:
        console.print(
            f"saturation: {load.saturation_output_tps:.1f} output t/s, "
            f"{load.saturation_rps:.3f} req/s ({FORMULAS['saturation']})",
            highlight=False,
        )

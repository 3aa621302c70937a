"""Capacity of servelab's load client (``servelab.load``) against the truth server.

Each configuration is one closed-loop load level (``run_level``: one client process per core,
warm-up excluded) of ``streams`` concurrent streams at ``rate`` t/s per stream, ``rounds`` ×
streams requests. Reported per level: streamed t/s (the level's output t/s = Σ output tokens /
level duration), each request's TPOT against the truth server's own (matched by response id;
truth TPOT = (t_last_write − t_first_write) / (tokens − 1)), each reported TPOT figure (mean,
p50–p99) against the same figure of the true TPOTs beside the client's own bound on it
(``client.figure_error_pct``), each TTFT figure likewise (true TTFT = the server's first
write − the client's send, one clock), client CPU µs per token (Σ client process CPU /
tokens), and the client's own verdict (``unreliable`` and why).

    python benchmarks/load_capacity.py --streams 100 --rates 2500 [--per-chunk 1] [--json F]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from client_bench import machine, reset, start_server, truth  # noqa: E402

from servelab.load.eventloop import loop_name  # noqa: E402
from servelab.load.levels import Client, run_level  # noqa: E402
from servelab.load.plan import LevelSpec  # noqa: E402

TOLERANCE = 0.01


def measure(url: str, streams: int, rate: float, args) -> dict:
    tokens = max(200, int(rate * args.seconds))
    payload = {
        "model": "truth",
        "max_tokens": tokens,
        "truth": {"rate": rate, "per_chunk": args.per_chunk, "ttft": args.ttft},
    }
    reset(url)
    server_before = truth(url)["cpu_s"]
    client = Client(url=url, processes=args.processes, timeout_s=120.0, warmup=0)
    spec = LevelSpec("concurrency", max_concurrency=streams)
    level, outcomes = run_level(spec, [payload] * (streams * args.rounds), client)
    report = truth(url)
    errors, true_tpots, true_ttfts = [], [], []
    for outcome in outcomes:
        real = report["requests"].get(outcome.response_id or "")
        if outcome.ok and real and real["decode_tps"] and outcome.tpot_s:
            errors.append(outcome.tpot_s * real["decode_tps"] - 1)  # tpot / true tpot − 1
            true_tpots.append(1e3 / real["decode_tps"])
            true_ttfts.append(1e3 * (real["t_first"] - outcome.t_sent))
    produced = sum(o.output_tokens or 0 for o in outcomes if o.ok)
    wall_cpu = level.client.cpu_pct / 100 * level.client.processes * level.duration_s
    return {
        "streams": streams,
        "rate": rate,
        "tokens": tokens,
        "per_chunk": args.per_chunk,
        "requests": level.requests,
        "ok": level.ok,
        "streamed_tps": level.output_tps,
        "offered_tps": streams * rate,
        "tpot_within_1pct": sum(abs(e) <= TOLERANCE for e in errors),
        "tpot_max_error_pct": 100 * max((abs(e) for e in errors), default=float("nan")),
        "client_cpu_us_per_token": 1e6 * wall_cpu / produced if produced else None,
        "client_cpu_pct_max": level.client.cpu_pct_max,
        "loop_lag_p99_ms": level.client.loop_lag_ms["p99"],
        "server_cpu_us_per_token": 1e6 * (report["cpu_s"] - server_before) / produced
        if produced
        else None,
        "unreliable": level.unreliable,
        "tpot_figure_error_pct": figure_errors(level.tpot_ms, true_tpots),
        "tpot_figure_bound_pct": (level.client.figure_error_pct or {}).get("tpot_ms"),
        "tpot_figure_late_pct": (level.client.figure_late_pct or {}).get("tpot_ms"),
        "ttft_figure_error_pct": figure_errors(level.ttft_ms, true_ttfts),
        "ttft_figure_bound_pct": (level.client.figure_error_pct or {}).get("ttft_ms"),
        "ttft_figure_late_pct": (level.client.figure_late_pct or {}).get("ttft_ms"),
    }


def figure_errors(reported, true_ms: list[float]) -> dict[str, float] | None:
    """Each reported figure against the same figure of the true values, in %."""
    if reported is None or not true_ms:
        return None
    ordered = sorted(true_ms)
    truth_figures = {"mean": statistics.fmean(true_ms)}
    for name in ("p50", "p90", "p95", "p99"):
        truth_figures[name] = ordered[max(0, math.ceil(float(name[1:]) / 100 * len(ordered)) - 1)]
    return {name: 100 * (getattr(reported, name) / t - 1) for name, t in truth_figures.items()}


def show(row: dict) -> None:
    verdict = "UNRELIABLE: " + row["unreliable"] if row["unreliable"] else "reliable"
    print(
        f"{row['streams']:>5} streams × {row['rate']:>6g} t/s (chunk {row['per_chunk']}): "
        f"streamed {row['streamed_tps'] or 0:>9.0f} t/s of {row['offered_tps']:>9.0f} offered, "
        f"ok {row['ok']}/{row['requests']}, TPOT within 1 % {row['tpot_within_1pct']}/"
        f"{row['ok']} (max {row['tpot_max_error_pct']:.3f} %), client "
        f"{row['client_cpu_us_per_token'] or 0:.2f} µs/tok (max proc CPU "
        f"{row['client_cpu_pct_max']:.0f} %, loop lag p99 {row['loop_lag_p99_ms']} ms), "
        f"server {row['server_cpu_us_per_token'] or 0:.2f} µs/tok — {verdict}",
        flush=True,
    )
    for kind in ("tpot", "ttft"):
        real, bound = row[f"{kind}_figure_error_pct"] or {}, row[f"{kind}_figure_bound_pct"] or {}
        print(
            f"      {kind.upper()} figure real error / client bound: "
            + ", ".join(f"{k} {real[k]:+.3f} / ≤{bound.get(k) or 0:.3f} %" for k in real),
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="100,1000", help="concurrent streams (comma list)")
    parser.add_argument("--rates", default="2500", help="per-stream t/s for every level")
    parser.add_argument("--per-chunk", type=int, default=1, help="tokens per SSE chunk")
    parser.add_argument("--seconds", type=float, default=3.0, help="tokens = rate × seconds")
    parser.add_argument("--ttft", type=float, default=0.01, help="server delay to first token")
    parser.add_argument("--rounds", type=int, default=1, help="requests per stream")
    parser.add_argument("--processes", type=int, default=os.cpu_count(), help="client processes")
    parser.add_argument("--server-cpu", type=int, default=None, help="pin the server to a CPU")
    parser.add_argument("--json", default=None, help="write the rows and machine here")
    args = parser.parse_args(argv)
    info = machine() | {"event_loop": loop_name()}
    print(json.dumps(info), flush=True)
    server, url = start_server(args.server_cpu)
    rows = []
    try:
        for streams in (int(s) for s in args.streams.split(",")):
            for rate in (float(r) for r in args.rates.split(",")):
                rows.append(measure(url, streams, rate, args))
                show(rows[-1])
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "args": vars(args), "rows": rows}))


if __name__ == "__main__":
    main()

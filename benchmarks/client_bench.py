"""Benchmark servelab's own streaming client against the truth server.

Fidelity: single stream at 250 and 2,000 t/s; error of the client's decode t/s against the
server's truth, both by ``servelab.metrics.DECODE_TPS`` (client: receive times; server: write
times).
Capacity: 1, 100 and 1,000 concurrent streams over ``run_concurrent`` — the code path the bench's
concurrency levels run; aggregate t/s by ``servelab.metrics.AGGREGATE_TPS``, and whether every
request's decode t/s stays within 1 % of its truth.

    python benchmarks/client_bench.py --load-model [load_capacity.py's flags]   (servelab.load)
    python benchmarks/client_bench.py [--quick] [--processes P] [--server-cpu N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from servelab import metrics
from servelab.client import stream_client, stream_run
from servelab.streams import run_concurrent

HERE = Path(__file__).resolve().parent
FIDELITY_RATES = (250.0, 2000.0)
# streams → per-stream rates to offer (t/s); the sweep stops at the first rate that fails.
CAPACITY = {
    1: (5000.0, 10000.0, 20000.0, 40000.0),
    100: (400.0, 600.0, 800.0, 1000.0, 1200.0),
    1000: (40.0, 60.0, 80.0, 100.0),
}
TOLERANCE = 0.01
SECONDS_PER_STREAM = 3.0


@dataclass
class Row:
    """One measured configuration."""

    scenario: str
    streams: int
    rate: float
    tokens: int
    per_chunk: int
    requests: int
    ok: int
    aggregate_tps: float
    offered_tps: float
    max_error_pct: float
    mean_error_pct: float
    within_1pct: int
    client_cpu_us_per_token: float | None
    server_cpu_us_per_token: float


def start_server(cpu: int | None) -> tuple[subprocess.Popen, str]:
    """The truth server in its own process (optionally pinned to one CPU)."""
    preexec = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    process = subprocess.Popen(
        [sys.executable, str(HERE / "truthserver"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        raise SystemExit(f"truth server did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].strip()


def truth(url: str) -> dict:
    return httpx.get(url + "/truth", timeout=30).json()


def reset(url: str) -> None:
    httpx.post(url + "/truth/reset", timeout=30)


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def compare(runs, report: dict) -> tuple[list[float], int]:
    """Per-request relative errors (client vs truth) and the number of ok runs."""
    errors = []
    for run in runs:
        if not run.ok or run.response_id not in report["requests"]:
            continue
        true_tps = report["requests"][run.response_id]["decode_tps"]
        errors.append(metrics.relative_error(run.decode_tps, true_tps))
    return errors, sum(run.ok for run in runs)


def row(scenario, streams, rate, tokens, per_chunk, runs, report, server_cpu, client_cpu) -> Row:
    errors, ok = compare(runs, report)
    total = sum(run.output_tokens or 0 for run in runs if run.ok)
    return Row(
        scenario=scenario,
        streams=streams,
        rate=rate,
        tokens=tokens,
        per_chunk=per_chunk,
        requests=len(runs),
        ok=ok,
        aggregate_tps=metrics.aggregate_tps(runs) or 0.0,
        offered_tps=streams * rate,
        max_error_pct=100 * max((abs(e) for e in errors), default=float("nan")),
        mean_error_pct=100 * sum(errors) / len(errors) if errors else float("nan"),
        within_1pct=sum(abs(e) <= TOLERANCE for e in errors),
        client_cpu_us_per_token=1e6 * client_cpu / total
        if client_cpu is not None and total
        else None,
        server_cpu_us_per_token=1e6 * server_cpu / total if total else float("nan"),
    )


def fidelity(url: str, rate: float, tokens: int, runs: int, per_chunk: int) -> Row:
    """Sequential single-stream runs, one event loop in this process, on the client the
    sequential bench uses (`stream_client`: the lean transport)."""
    payload = {
        "model": "truth",
        "max_tokens": tokens,
        "truth": {"rate": rate, "per_chunk": per_chunk},
    }

    async def go():
        async with stream_client() as client:
            return [await stream_run(client, url, payload, timeout_s=30) for _ in range(runs)]

    reset(url)
    server_before, client_before = truth(url)["cpu_s"], cpu_self()
    records = asyncio.run(go())
    client_cpu = cpu_self() - client_before
    report = truth(url)
    return row(
        f"fidelity {rate:g} t/s",
        1,
        rate,
        tokens,
        per_chunk,
        records,
        report,
        report["cpu_s"] - server_before,
        client_cpu,
    )


def startup_cpu(url: str, processes: int) -> float:
    """CPU the worker processes spend starting (imports), measured on 1-token requests."""
    before = cpu_children()
    run_concurrent(url, {"model": "truth", "max_tokens": 1}, processes, processes=processes)
    return cpu_children() - before


def capacity(
    url: str,
    streams: int,
    rate: float,
    processes: int,
    per_chunk: int,
    startup: float,
    seconds: float,
    ttft: float,
) -> Row:
    tokens = max(200, int(rate * seconds))
    payload = {
        "model": "truth",
        "max_tokens": tokens,
        "truth": {"rate": rate, "per_chunk": per_chunk, "ttft": ttft},
    }
    reset(url)
    server_before = truth(url)["cpu_s"]
    before_self, before_children = cpu_self(), cpu_children()
    records = run_concurrent(url, payload, streams, processes=processes, timeout_s=60)
    if min(processes, streams) > 1:
        client_cpu = cpu_children() - before_children - startup
    else:
        client_cpu = cpu_self() - before_self
    report = truth(url)
    return row(
        f"capacity {streams} streams",
        streams,
        rate,
        tokens,
        per_chunk,
        records,
        report,
        report["cpu_s"] - server_before,
        client_cpu,
    )


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_1min": os.getloadavg()[0],
    }


def print_row(r: Row) -> None:
    client = f"{r.client_cpu_us_per_token:6.1f}" if r.client_cpu_us_per_token else "   n/a"
    print(
        f"{r.scenario:<22} streams {r.streams:>5} × {r.rate:>7g} t/s  tokens {r.tokens:>6}  "
        f"ok {r.ok:>4}/{r.requests:<4} aggregate {r.aggregate_tps:>9.0f} t/s  "
        f"max|err| {r.max_error_pct:6.3f} %  mean err {r.mean_error_pct:+7.3f} %  "
        f"within 1 % {r.within_1pct:>4}  client {client} µs/tok  "
        f"server {r.server_cpu_us_per_token:5.1f} µs/tok",
        flush=True,
    )


def main() -> None:
    if "--load-model" in sys.argv:  # the load client (servelab.load) instead of run_concurrent
        from load_capacity import main as load_main

        load_main([arg for arg in sys.argv[1:] if arg != "--load-model"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count(),
        help="client processes for the capacity runs (default: one per core)",
    )
    parser.add_argument(
        "--server-cpu",
        type=int,
        default=None,
        help="pin the truth server to this CPU (default: no pinning)",
    )
    parser.add_argument("--tokens", type=int, default=2500, help="tokens per fidelity run")
    parser.add_argument("--runs", type=int, default=5, help="fidelity runs per rate")
    parser.add_argument("--per-chunk", type=int, default=1, help="tokens per SSE chunk")
    parser.add_argument("--streams", default="1,100,1000", help="capacity levels")
    parser.add_argument(
        "--rates", default=None, help="per-stream rates for every capacity level (comma list)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=SECONDS_PER_STREAM,
        help="capacity streams last about this long (tokens = rate × seconds)",
    )
    parser.add_argument(
        "--ttft",
        type=float,
        default=0.01,
        help="the server's delay to the first token of each capacity stream",
    )
    parser.add_argument("--skip-fidelity", action="store_true")
    parser.add_argument("--json", default=None, help="write the rows and machine here")
    args = parser.parse_args()

    info = machine()
    print(json.dumps(info), flush=True)
    server, url = start_server(args.server_cpu)
    rows: list[Row] = []
    try:
        if not args.skip_fidelity:
            for rate in FIDELITY_RATES:
                rows.append(fidelity(url, rate, args.tokens, args.runs, args.per_chunk))
                print_row(rows[-1])
        startup = startup_cpu(url, args.processes)
        for streams in (int(s) for s in args.streams.split(",")):
            rates = (
                [float(r) for r in args.rates.split(",")]
                if args.rates
                else CAPACITY.get(streams, (100.0,))
            )
            for rate in rates:
                rows.append(
                    capacity(
                        url,
                        streams,
                        rate,
                        args.processes,
                        args.per_chunk,
                        startup,
                        args.seconds,
                        args.ttft,
                    )
                )
                print_row(rows[-1])
                if rows[-1].within_1pct < rows[-1].requests:
                    break
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"machine": info, "args": vars(args), "rows": [asdict(r) for r in rows]}, indent=2
            )
        )


if __name__ == "__main__":
    main()

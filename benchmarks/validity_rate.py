"""The validity rule on the real llama-server (CPU): false positives and detected bursts.

Normal: ``--benches`` benches of ``--runs`` runs straight to the server; every run should stay
valid (an invalid one is a false positive) and its figure should agree with the server's own.
Injected: the same through benchmarks/bufferproxy.py, which writes every response in one piece;
every run should be invalid (burst). Prints one line per bench and a summary.
``--fake RATE[xPER_CHUNK]`` uses the test suite's fault server (tests/fakes) at that rate
instead of the llama-server, e.g. ``--fake 2000`` or ``--fake 1500x3`` (speculative-like).

    SERVELAB_MODELS=<models> python benchmarks/validity_rate.py [--benches 10] [--runs 5]
        [--tokens 200] [--recipe local-stories260k] [--fake RATE[xN]] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from servelab.bench.runner import Bench, BenchOptions, Target, target_for_recipe
from servelab.launch import launch
from servelab.recipe import load_recipe
from servelab.workloads import get_workload

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bufferproxy import BufferingProxy  # noqa: E402


def bench_once(target, options: BenchOptions, workload) -> list:
    """One bench (not stored); its runs with validity and the server's figure."""
    return Bench(target, workload, options, store=None).run().runs


def tally(runs: list) -> dict:
    """Runs, ok, invalid (by kind) and the largest |servelab / server − 1|."""
    ok = [run for run in runs if run.ok]
    invalid = [run for run in ok if run.valid is False]
    gaps = [
        abs(run.decode_tps / run.server_decode_tps - 1)
        for run in ok
        if run.decode_tps and run.server_decode_tps
    ]
    kinds = Counter((run.invalid_reason or "").split(" ", 1)[0] for run in invalid)
    return {
        "runs": len(runs),
        "ok": len(ok),
        "invalid": len(invalid),
        "kinds": dict(kinds),
        "server_figures": sum(run.server_decode_tps is not None for run in ok),
        "max_disagreement": max(gaps, default=None),
        "reasons": [run.invalid_reason for run in invalid],
    }


def campaign(name: str, target, options, workload, benches: int) -> dict:
    totals: dict = {"name": name, "runs": 0, "ok": 0, "invalid": 0, "server_figures": 0}
    worst, kinds, reasons = 0.0, Counter(), []
    for index in range(1, benches + 1):
        found = tally(bench_once(target, options, workload))
        for key in ("runs", "ok", "invalid", "server_figures"):
            totals[key] += found[key]
        kinds.update(found["kinds"])
        reasons += found["reasons"]
        worst = max(worst, found["max_disagreement"] or 0.0)
        print(
            f"{name} bench {index}: {found['ok']}/{found['runs']} ok, {found['invalid']} invalid "
            f"{found['kinds']}, server figure on {found['server_figures']}",
            flush=True,
        )
    totals.update(kinds=dict(kinds), max_disagreement=worst, reasons=reasons[:20])
    return totals


@contextmanager
def served(recipe, fake: str | None) -> Iterator:
    """The bench target: the recipe's llama-server, or the test suite's fault server."""
    if fake is None:
        with launch(recipe) as endpoint:
            yield target_for_recipe(recipe, endpoint)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fakes.fault_server import FaultServer

    rate, _, per_chunk = fake.partition("x")
    server = FaultServer(rate=float(rate), tokens_per_chunk=int(per_chunk or 1), timings=True)
    with server:
        yield Target(server.url, "fake-model", None, None, "fake", "fake")


def machine() -> dict:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_1min": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="local-stories260k")
    parser.add_argument("--benches", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--fake", default=None, help="fault server RATE[xPER_CHUNK] instead")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    info = machine()
    print(json.dumps(info), flush=True)
    recipe = load_recipe(args.recipe)
    options = BenchOptions(runs=args.runs, tokens=args.tokens, keep_cold=True)
    workload = get_workload(recipe.bench.prompt)
    with served(recipe, args.fake) as target:
        normal = campaign("normal", target, options, workload, args.benches)
        address = urlparse(target.url)
        with BufferingProxy(address.hostname, address.port) as proxy:
            proxied = replace(target, url=proxy.url)
            injected = campaign("injected", proxied, options, workload, args.benches)
    summary = {
        "false_positives": normal["invalid"],
        "normal_ok_runs": normal["ok"],
        "detected": injected["invalid"],
        "injected_ok_runs": injected["ok"],
    }
    print(json.dumps({"normal": normal, "injected": injected, "summary": summary}), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": info,
                    "args": vars(args),
                    "normal": normal,
                    "injected": injected,
                    "summary": summary,
                },
                indent=2,
            )  # fmt: skip
        )


if __name__ == "__main__":
    main()

"""Issue 16's GPU check: servelab's load client against `vllm bench serve` on one vLLM server.

    python benchmarks/gpu/load_ab.py dataset FILE N       # N chat prompts, one JSON per line
    python benchmarks/gpu/load_ab.py trace FILE N RATE SEED OUT  # the same, with vLLM's send times
    python benchmarks/gpu/load_ab.py compare WORK         # the A B table and the agreement

`run_vllm.sh load` runs A (servelab bench) and B (vllm bench serve) in turn on the same prompts,
rate and output length, snapshotting /metrics before and after each. Both send the same
requests at the same offsets: `trace` draws the schedule `vllm bench serve --seed SEED
--request-rate RATE` draws (numpy's global generator seeded with SEED, one gamma draw of shape
1 per request, the partial sums rescaled so the last is N / RATE) and writes it as each line's
`timestamp`, which servelab replays with `--fixed-schedule`; `compare` checks vLLM's recorded
`start_times` against it. Compared: output t/s, median TTFT and median TPOT between the tools
(target: within 3 %), and each tool's output t/s against the server's Δ
vllm:generation_tokens over that tool's own duration (target: within 0.5 %).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

TOPICS = ("a lighthouse", "a lost key", "the first snow", "a robot cook", "an old map", "a river")


def dataset(path: str, count: int) -> None:
    rng = random.Random(16)
    with open(path, "w") as handle:
        for index in range(count):
            topic = rng.choice(TOPICS)
            words = " ".join(rng.choice(TOPICS).split()[-1] for _ in range(rng.randint(8, 40)))
            prompt = f"Story {index}: write a long story about {topic}. Keywords: {words}."
            handle.write(json.dumps({"prompt": prompt}) + "\n")


def vllm_schedule(count: int, rate: float, seed: int) -> list[float]:
    """The send offsets (s) `vllm bench serve --request-rate RATE --seed SEED` uses (Poisson)."""
    import numpy as np

    np.random.seed(seed)
    delays = [float(np.random.gamma(shape=1.0, scale=1.0 / rate)) for _ in range(count)]
    total = 0.0
    for index, delay in enumerate(delays):
        total += delay
        delays[index] = total
    factor = (count / rate) / delays[-1]
    return [delay * factor for delay in delays]


def trace(source: str, count: int, rate: float, seed: int, out: str) -> None:
    rows = [json.loads(line) for line in Path(source).read_text().splitlines()[:count]]
    with open(out, "w") as handle:
        for row, at in zip(rows, vllm_schedule(count, rate, seed), strict=True):
            handle.write(json.dumps({**row, "timestamp": round(at * 1000, 6)}) + "\n")


def schedule_error_ms(result: Path, trace_file: Path) -> float | None:
    """Largest |vLLM's recorded send offset − the trace's offset| over the run (ms)."""
    starts = json.loads(result.read_text()).get("start_times")
    if not starts or not trace_file.is_file():
        return None
    wanted = [json.loads(line)["timestamp"] / 1000 for line in trace_file.read_text().splitlines()]
    got = [start - starts[0] for start in starts]
    want = [at - wanted[0] for at in wanted]
    return 1000 * max(abs(a - b) for a, b in zip(got, want, strict=True))


def generated(path: Path) -> float:
    total = 0.0
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.name == "vllm:generation_tokens_total":
                total += sample.value
    return total


def servelab_row(path: Path) -> dict:
    level = json.loads(path.read_text())["load"]["levels"][0]
    return {
        "output_tps": level["output_tps"],
        "ttft_p50_ms": level["ttft_ms"]["p50"],
        "tpot_p50_ms": level["tpot_ms"]["p50"],
        "duration_s": level["duration_s"],
        "tokens": level["output_tps"] * level["duration_s"],
        "server_own": level["server"],
        "unreliable": level["unreliable"],
        "send_lag_ms": (level["client"].get("send_lag_ms") or {}),
    }


def vllm_row(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {
        "output_tps": data["output_throughput"],
        "ttft_p50_ms": data["median_ttft_ms"],
        "tpot_p50_ms": data["median_tpot_ms"],
        "duration_s": data["duration"],
        "tokens": data["total_output_tokens"],
    }


def _pct(a: float, b: float) -> float:
    return 100 * (a / b - 1)


def compare(work: str) -> None:
    root = Path(work)
    rows = []
    for run in sorted(root.glob("metrics-load-*-before.txt")):
        name = run.name.removesuffix("-before.txt").removeprefix("metrics-load-")
        tool, round_no = name.split("-", 1)
        result = root / f"load-{name}.json"
        if not result.is_file():
            print(f"{name}: no result file")
            continue
        row = servelab_row(result) if tool == "servelab" else vllm_row(result)
        if tool == "vllm":
            row["schedule_error_ms"] = schedule_error_ms(result, root / f"trace-{round_no}.jsonl")
        delta = generated(root / f"metrics-load-{name}-after.txt") - generated(run)
        row.update(name=name, tool=tool, counter_tokens=delta)
        row["counter_tps"] = delta / row["duration_s"]
        row["vs_counter_pct"] = _pct(row["output_tps"], row["counter_tps"])
        rows.append(row)
        print(
            f"{name:<14} output {row['output_tps']:9.1f} t/s (server Δ/duration "
            f"{row['counter_tps']:9.1f}, {row['vs_counter_pct']:+.2f} %; tokens {row['tokens']:.0f}"
            f" vs Δ {delta:.0f})  TTFT p50 {row['ttft_p50_ms']:8.2f} ms  TPOT p50 "
            f"{row['tpot_p50_ms']:7.3f} ms" + _schedule_note(row)
        )
    for key in ("output_tps", "ttft_p50_ms", "tpot_p50_ms"):
        ours = [r[key] for r in rows if r["tool"] == "servelab"]
        theirs = [r[key] for r in rows if r["tool"] == "vllm"]
        if ours and theirs:
            a, b = sum(ours) / len(ours), sum(theirs) / len(theirs)
            print(
                f"{key}: servelab {a:.3f} vs vllm bench serve {b:.3f} (means of {len(ours)} and "
                f"{len(theirs)} runs): {_pct(a, b):+.2f} %"
            )
    (root / "load-ab.json").write_text(json.dumps(rows, indent=2))


def _schedule_note(row: dict) -> str:
    if row.get("schedule_error_ms") is not None:
        return f"  sends vs trace: max |Δ| {row['schedule_error_ms']:.2f} ms"
    lag = row.get("send_lag_ms") or {}
    if lag.get("p99") is not None:
        return f"  send lag p50/p99 {lag.get('p50', 0):.2f}/{lag['p99']:.2f} ms"
    return ""


if __name__ == "__main__":
    if sys.argv[1] == "dataset":
        dataset(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "trace":
        trace(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        compare(sys.argv[2])

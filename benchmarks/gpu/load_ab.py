"""Issue 16's GPU check: servelab's load client against `vllm bench serve` on one vLLM server.

    python benchmarks/gpu/load_ab.py dataset FILE N       # N chat prompts, one JSON per line
    python benchmarks/gpu/load_ab.py compare WORK         # the A B A B table and the agreement

`run_vllm.sh load` runs A (servelab bench --request-rate) and B (vllm bench serve) in turn on
the same dataset, rate and output length, snapshotting /metrics before and after each. Compared:
output t/s, median TTFT and median TPOT between the tools (target: within 3 %), and each tool's
output t/s against the server's Δ vllm:generation_tokens over that tool's own duration (target:
within 0.5 %; a difference the size of a warm-up request is named as such).
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
        tool, _ = name.split("-", 1)
        result = root / f"load-{name}.json"
        if not result.is_file():
            print(f"{name}: no result file")
            continue
        row = servelab_row(result) if tool == "servelab" else vllm_row(result)
        delta = generated(root / f"metrics-load-{name}-after.txt") - generated(run)
        row.update(name=name, tool=tool, counter_tokens=delta)
        row["counter_tps"] = delta / row["duration_s"]
        row["vs_counter_pct"] = _pct(row["output_tps"], row["counter_tps"])
        rows.append(row)
        print(
            f"{name:<14} output {row['output_tps']:9.1f} t/s (server Δ/duration "
            f"{row['counter_tps']:9.1f}, {row['vs_counter_pct']:+.2f} %; tokens {row['tokens']:.0f}"
            f" vs Δ {delta:.0f})  TTFT p50 {row['ttft_p50_ms']:8.2f} ms  TPOT p50 "
            f"{row['tpot_p50_ms']:7.3f} ms"
        )
    for key in ("output_tps", "ttft_p50_ms", "tpot_p50_ms"):
        ours = [r[key] for r in rows if r["tool"] == "servelab"]
        theirs = [r[key] for r in rows if r["tool"] == "vllm"]
        if ours and theirs:
            a, b = sum(ours) / len(ours), sum(theirs) / len(theirs)
            print(f"{key}: servelab {a:.3f} vs vllm bench serve {b:.3f}: {_pct(a, b):+.2f} %")
    (root / "load-ab.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    if sys.argv[1] == "dataset":
        dataset(sys.argv[2], int(sys.argv[3]))
    else:
        compare(sys.argv[2])

"""Tabulate a GPU run of benchmarks/gpu/run_vllm.sh: servelab vs `vllm bench serve` vs counters.

Usage: python benchmarks/gpu/analyse.py RESULTS_DIR  (prints a markdown table)

For each stack, three opinions of decode t/s:
- servelab: mean over the non-cold runs, (output_tokens − 1) / (t_last_chunk − t_first_token);
  also pooled over all runs of the bench: Σ(tokens − 1) / Σ decode time.
- server counters over servelab's whole bench (snapshots metrics-NAME-0 → -1):
  (Δgeneration_tokens − Δrequests) / Δrequest_decode_time_seconds_sum, i.e. the same pooled
  formula measured by the engine itself; and over the `vllm bench serve` window (-1 → -2).
- `vllm bench serve`: 1 / mean TPOT (its own three requests, random 16-token prompts).
Acceptance: servelab's (its own /metrics deltas around the non-cold runs), the snapshot deltas
over the whole bench, and `vllm bench serve`'s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def counters(path: Path) -> dict[str, float]:
    """Sum every sample of the families we need, across label sets."""
    wanted = {
        "vllm:generation_tokens": "generation_tokens",
        "vllm:request_decode_time_seconds": "decode_time",
        "vllm:spec_decode_num_drafts": "drafts",
        "vllm:spec_decode_num_draft_tokens": "drafted",
        "vllm:spec_decode_num_accepted_tokens": "accepted",
    }
    out = dict.fromkeys(wanted.values(), 0.0) | {"requests": 0.0}
    for family in text_string_to_metric_families(path.read_text()):
        key = wanted.get(family.name)
        for sample in family.samples:
            if key == "decode_time" and sample.name.endswith("_sum"):
                out["decode_time"] += sample.value
            elif key == "decode_time" and sample.name.endswith("_count"):
                out["requests"] += sample.value
            elif key and key != "decode_time" and sample.name.endswith("_total"):
                out[key] += sample.value
    return out


def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: b[key] - a[key] for key in a}


def pooled_tps(d: dict[str, float]) -> float | None:
    if not d["decode_time"]:
        return None
    return (d["generation_tokens"] - d["requests"]) / d["decode_time"]


def fmt(value: float | None, digits: int = 1, pct: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.{digits}f} %" if pct else f"{value:.{digits}f}"


def row(root: Path, name: str) -> dict[str, object]:
    bench = json.loads((root / f"bench-{name}.json").read_text())
    runs = [r for r in bench["runs"] if r["ok"] and r["decode_tps"]]
    pooled = sum(r["output_tokens"] - 1 for r in runs) / sum(
        (r["output_tokens"] - 1) / r["decode_tps"] for r in runs
    )
    out: dict[str, object] = {
        "stack": name,
        "servelab_mean": bench["summary"]["mean"],
        "servelab_stdev": bench["summary"]["stdev"],
        "n": bench["summary"]["n"],
        "servelab_pooled": pooled,
        "servelab_alpha": (bench.get("spec") or {}).get("acceptance_rate"),
    }
    snaps = [root / f"metrics-{name}-{i}.txt" for i in range(3)]
    if snaps[0].exists() and snaps[1].exists():  # servelab's bench window
        c0, c1 = counters(snaps[0]), counters(snaps[1])
        window = delta(c0, c1)
        out["counters_bench"] = pooled_tps(window)
        out["counters_alpha"] = (
            window["accepted"] / window["drafted"] if window["drafted"] else None
        )
        if snaps[2].exists():  # then `vllm bench serve`'s window
            out["counters_serve"] = pooled_tps(delta(c1, counters(snaps[2])))
    serve_path = root / f"vllm-bench-serve-{name}.json"
    if serve_path.exists():
        serve = json.loads(serve_path.read_text())
        out["serve_tpot_tps"] = 1000.0 / serve["mean_tpot_ms"]
        rate = serve.get("spec_decode_acceptance_rate")
        out["serve_alpha"] = rate / 100 if rate is not None else None
    return out


def main(root_text: str) -> None:
    root = Path(root_text)
    names = sorted(p.name[len("bench-") : -len(".json")] for p in root.glob("bench-*.json"))
    print(
        "| stack | servelab decode t/s (mean ± σ, n) | servelab pooled | counters, same window "
        "| Δ | `vllm bench serve` 1/TPOT | counters, serve window | α servelab | α counters "
        "(whole bench) | α bench serve |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r = row(root, name)
        agree = None
        if r.get("counters_bench"):
            agree = r["servelab_pooled"] / r["counters_bench"] - 1
        print(
            f"| {name} | {fmt(r['servelab_mean'])} ± {fmt(r['servelab_stdev'])} ({r['n']}) "
            f"| {fmt(r['servelab_pooled'])} | {fmt(r.get('counters_bench'))} "
            f"| {fmt(agree, 2, pct=True)} | {fmt(r.get('serve_tpot_tps'))} "
            f"| {fmt(r.get('counters_serve'))} | {fmt(r['servelab_alpha'], 2, pct=True)} "
            f"| {fmt(r.get('counters_alpha'), 2, pct=True)} "
            f"| {fmt(r.get('serve_alpha'), 2, pct=True)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])

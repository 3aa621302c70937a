"""`servelab bench` load flags → a LoadPlan, and the printed load table with its formulas."""

from __future__ import annotations

from pathlib import Path

from servelab.cli.app import console
from servelab.errors import BadInput
from servelab.load.formulas import FORMULAS
from servelab.load.honesty import SEND_LAG_BOUND_MS
from servelab.load.plan import LevelSpec, LoadPlan
from servelab.load.prompts import LoadWorkload
from servelab.load.records import SLO_KEYS, LoadResult
from servelab.load.schedule import ARRIVALS

DEFAULT_OUTPUT_LEN = 256
LOAD_ONLY = ("num_prompts", "duration", "slo", "input_len", "dataset", "prefix_len", "output_len")


def parse_slo(text: str | None) -> dict[str, float] | None:
    """``ttft_ms=500,tpot_ms=50`` → {"ttft_ms": 500.0, "tpot_ms": 50.0}."""
    if not text:
        return None
    slo = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in SLO_KEYS:
            raise BadInput(f"--slo: unknown key {key!r} (use {', '.join(SLO_KEYS)})")
        try:
            slo[key] = float(value)
        except ValueError:
            raise BadInput(f"--slo: {key} needs a number of milliseconds, got {value!r}") from None
        if slo[key] <= 0:
            raise BadInput(f"--slo: {key} must be > 0")
    return slo


def parse_rates(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--request-rate: expected numbers, got {text!r}") from None
    if any(rate <= 0 for rate in rates):
        raise BadInput("--request-rate: every rate must be > 0")
    return rates


def _workload(flags: dict) -> LoadWorkload:
    dataset = flags.get("dataset")
    kind = "fixed"
    if flags.get("input_len"):
        kind = "synthetic"
    if dataset:
        if flags.get("input_len"):
            raise BadInput("give --dataset or --input-len, not both")
        if not Path(dataset).is_file():
            raise BadInput(f"--dataset: no file {dataset}")
        kind = flags.get("dataset_format") or (
            "sharegpt" if "sharegpt" in Path(dataset).name.lower() else "jsonl"
        )
        if kind not in ("jsonl", "sharegpt"):
            raise BadInput("--dataset-format: jsonl or sharegpt")
    if flags.get("prefix_len") and kind != "synthetic":
        raise BadInput("--prefix-len needs --input-len (synthetic prompts)")
    return LoadWorkload(
        kind=kind,
        output_len=flags.get("output_len") or DEFAULT_OUTPUT_LEN,
        input_len=flags.get("input_len"),
        spread=flags.get("spread") or 0.0,
        prefix_len=flags.get("prefix_len") or 0,
        path=dataset,
        seed=flags.get("seed") or 0,
    )


def load_plan(concurrency: list[int], flags: dict) -> LoadPlan | None:
    """The plan the flags ask for; None when no load mode is given."""
    rates = parse_rates(flags.get("request_rate"))
    max_conc, sweep = flags.get("max_concurrency"), flags.get("sweep")
    if not (concurrency or rates or max_conc or sweep):
        given = [name for name in LOAD_ONLY if flags.get(name)]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise BadInput(f"{flag} needs a load mode: --max-concurrency, --request-rate, --sweep")
        return None
    if flags.get("num_prompts") and flags.get("duration"):
        raise BadInput("give --num-prompts or --duration, not both")
    arrival = flags.get("arrival") or (
        "gamma" if flags.get("burstiness", 1.0) != 1.0 else "poisson"
    )
    if arrival not in ARRIVALS:
        raise BadInput(f"--arrival: one of {', '.join(ARRIVALS)}")
    common = {"num_prompts": flags.get("num_prompts"), "duration_s": flags.get("duration")}
    levels = [LevelSpec("concurrency", max_concurrency=c, **common) for c in concurrency]
    for index, rate in enumerate(rates):
        levels.append(
            LevelSpec(
                arrival,
                max_concurrency=max_conc,
                request_rate=rate,
                burstiness=flags.get("burstiness", 1.0),
                seed=(flags.get("seed") or 0) + index,
                **common,
            )
        )
    if max_conc and not rates and not sweep:
        levels.append(LevelSpec("concurrency", max_concurrency=max_conc, **common))
    plan = LoadPlan(
        levels=levels,
        num_prompts=flags.get("num_prompts"),
        workload=_workload(flags),
        slo=parse_slo(flags.get("slo")),
        processes=flags.get("client_processes") or 0,
        warmup=flags.get("warmup"),
        tokenizer=flags.get("tokenizer"),
    )
    if sweep:
        plan.sweep_rates = flags.get("sweep_rates")
        plan.sweep_concurrency = max_conc or plan.sweep_concurrency
    return plan


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
            f"  client: {client.processes} process(es), CPU {client.cpu_pct:.0f} % "
            f"(max {client.cpu_pct_max:.0f} %), send lag p50/p99 {_ms(client.send_lag_ms['p50'])}"
            f"/{_ms(client.send_lag_ms['p99'])} ms, loop lag p99 {_ms(client.loop_lag_ms['p99'])}"
            f" ms{rate}"
        )
    if level.errors:
        lines.append(f"  [red]failed[/]: {'; '.join(level.errors)}")
    if level.unreliable:
        lines.append(f"  [bold yellow]UNRELIABLE, not ranked[/]: {level.unreliable}")
    return lines


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


def render_load(load: LoadResult) -> None:
    """Each level with its figures, then the formulas, the SLOs and the saturation."""
    for number, level in enumerate(load.levels, 1):
        for text in _level_lines(number, level):
            console.print(text, highlight=False)
    console.print("formulas:", highlight=False)
    for key in FORMULA_KEYS:
        console.print(f"  {FORMULAS[key]}", highlight=False)
    console.print(
        f"  unreliable: client CPU ≥ 90 %, 2 × loop lag p99 > 1 % of a decode, loop lag p99 "
        f"> 5 % of TTFT, or send lag p99 > {SEND_LAG_BOUND_MS:g} ms",
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

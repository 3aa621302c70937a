"""`servelab bench` load flags → a LoadPlan, and the printed load table with its formulas."""

from __future__ import annotations

from pathlib import Path

from servelab.errors import BadInput
from servelab.load.plan import LevelSpec, LoadPlan
from servelab.load.prompts import LoadWorkload
from servelab.load.records import SLO_KEYS
from servelab.load.schedule import ARRIVALS

DEFAULT_OUTPUT_LEN = 256
LOAD_ONLY = (
    "num_prompts",
    "duration",
    "slo",
    "input_len",
    "dataset",
    "prefix_len",
    "output_len",
    "ray",
)


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


def _trace_level(concurrency: list[int], rates: list[float], flags: dict) -> LevelSpec:
    """The one level of ``--fixed-schedule``: the dataset's own send times."""
    if concurrency or rates or flags.get("sweep") or flags.get("duration"):
        raise BadInput(
            "--fixed-schedule takes its send times from the dataset: "
            "not with --concurrency, --request-rate, --sweep or --duration"
        )
    if not flags.get("dataset") or flags.get("dataset_format") == "sharegpt":
        raise BadInput("--fixed-schedule needs a JSONL --dataset with a 'timestamp' (ms) per line")
    return LevelSpec(
        "trace", max_concurrency=flags.get("max_concurrency"), num_prompts=flags.get("num_prompts")
    )


def load_plan(concurrency: list[int], flags: dict) -> LoadPlan | None:
    """The plan the flags ask for; None when no load mode is given."""
    rates = parse_rates(flags.get("request_rate"))
    max_conc, sweep = flags.get("max_concurrency"), flags.get("sweep")
    if flags.get("fixed_schedule"):
        return _plan([_trace_level(concurrency, rates, flags)], flags)
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
    plan = _plan(levels, flags)
    if sweep:
        plan.sweep_rates = flags.get("sweep_rates")
        plan.sweep_concurrency = max_conc or plan.sweep_concurrency
    return plan


def _plan(levels: list[LevelSpec], flags: dict) -> LoadPlan:
    return LoadPlan(
        levels=levels,
        num_prompts=flags.get("num_prompts"),
        workload=_workload(flags),
        slo=parse_slo(flags.get("slo")),
        processes=flags.get("client_processes") or 0,
        warmup=flags.get("warmup"),
        tokenizer=flags.get("tokenizer"),
        ray_address=flags.get("ray"),
    )

"""The neutral records every stage passes along: runs, summaries, spec telemetry, checks.

Field names follow the JSON contract in docs/design.md; bench, store, report and tune share them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from servelab import metrics
from servelab.load.records import LoadResult
from servelab.urls import public_url

BenchStatus = Literal["running", "complete", "invalid", "interrupted", "failed"]
"""A bench's status: running until it ends complete, invalid (no valid run), interrupted
(Ctrl-C) or failed (every run failed)."""
TuneStatus = Literal["running", "complete", "incomplete", "interrupted"]
"""A tune's status: incomplete when a slot did not finish (it can be resumed)."""
SlotStatus = Literal["running", "complete", "invalid", "interrupted", "failed", "missing"]
"""A tune slot: its bench's status, failed (no bench stored), or missing (not run yet)."""


class FailureKind(StrEnum):
    """Why an engine did not start or serve, in neutral words (engines/ maps logs onto these)."""

    KV_TOO_SMALL = "kv_cache_too_small"
    NO_CACHE_MEMORY = "no_cache_memory"
    CUDA_OOM = "cuda_oom"
    INVALID_ARGUMENT = "invalid_argument"
    MODEL_NOT_FOUND = "model_not_found"
    PORT_IN_USE = "port_in_use"
    ENGINE_EXITED = "engine_exited"
    KV_DTYPE_UNSUPPORTED = "kv_dtype_unsupported"
    NOT_READY = "not_ready"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRecord(_Record):
    """One measured generation (llama.cpp's per-response `timings`, made engine-neutral)."""

    index: int = Field(description="1-based position in the run set.")
    cold: bool = Field(False, description="First run after a launch (excluded by default).")
    ok: bool = Field(description="Completed with the requested number of tokens.")
    error: str | None = Field(None, description="Why the run failed or was short.")
    output_tokens: int | None = Field(None, description="Server usage.completion_tokens.")
    prompt_tokens: int | None = Field(None, description="Server usage.prompt_tokens.")
    ttft_s: float | None = Field(None, description=metrics.TTFT.text)
    decode_tps: float | None = Field(None, description=metrics.DECODE_TPS.text)
    e2e_tps: float | None = Field(None, description=metrics.E2E_TPS.text)
    chunks: int = Field(0, description="SSE chunks carrying content (not tokens).")
    duration_s: float | None = Field(None, description="t_last_chunk − t_request_sent.")
    started_at: float | None = Field(None, description="Unix time the request was sent.")
    concurrency: int = Field(1, description="Streams in flight at once.")
    drafted: int | None = Field(None, description="Draft tokens per the response (llama.cpp).")
    accepted: int | None = Field(None, description="Accepted drafts per the response.")
    engine_timings: dict[str, Any] | None = Field(None, description="Engine's own record.")
    response_id: str | None = Field(None, description="The response's id (matches server logs).")
    valid: bool | None = Field(
        None, description="ok and no validity rule fired (None: stored before the rules)."
    )
    invalid_reason: str | None = Field(None, description="The rule that fired, with evidence.")
    reads: int | None = Field(None, description="Network reads that carried content chunks.")
    first_read_chunks: int | None = Field(None, description="Content chunks in the first one.")
    max_read_chunks: int | None = Field(None, description="Most content chunks in one read.")
    server_decode_tps: float | None = Field(None, description=metrics.SERVER_DECODE_TPS.text)
    stamp_slack: tuple[float, float | None, float, float | None] | None = Field(
        None,
        description="(held, window) of the first and of the last text chunk's stamp, in s: how "
        "long after its stamp the client's loop took the read, and how long before it the "
        "bytes may have reached the socket (None: not known); load/stamps.py.",
    )
    server_source: str | None = Field(None, description="Where the server's figure came from.")

    def counted(self, keep_cold: bool = False) -> bool:
        """Whether the run's decode t/s enters a summary: single-stream, ok, valid, warm."""
        return (
            self.concurrency == 1
            and self.ok
            and self.valid is not False
            and (keep_cold or not self.cold)
            and self.decode_tps is not None
        )


class Summary(_Record):
    """Run-set statistics (sample σ; t-interval)."""

    n: int
    mean: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None
    range: float | None = None
    stdev: float | None = None
    ci95: list[float] | None = Field(None, description="[low, high] 95 % t-interval of mean.")
    cv: float | None = Field(None, description="stdev / mean.")


class SpecStats(_Record):
    """Speculative decoding over the measured window (counter deltas, never cumulative)."""

    drafts: float | None = None
    drafted: float | None = None
    accepted: float | None = None
    acceptance_rate: float | None = Field(None, description=metrics.ACCEPTANCE_RATE.text)
    mean_acceptance_length: float | None = Field(
        None, description=metrics.MEAN_ACCEPTANCE_LENGTH.text
    )
    per_position: list[float] = Field(default_factory=list, description=metrics.PER_POSITION.text)
    k: int | None = Field(None, description="num_speculative_tokens.")
    estimated_tokens_per_step: float | None = Field(
        None, description=metrics.TOKENS_PER_STEP_ESTIMATE.text
    )
    source: str | None = Field(None, description="metrics or timings.")
    timings_drafted: int | None = Field(
        None, description="Σ drafted tokens in the responses' own records."
    )
    timings_accepted: int | None = Field(
        None, description="Σ accepted tokens in the responses' own records."
    )


class Cluster(_Record):
    mean: float
    runs: list[int]


class Regimes(_Record):
    """Well-separated clusters of run values (e.g. 5 fast, 4 slow)."""

    bimodal: bool = False
    clusters: list[Cluster] = Field(default_factory=list)
    pattern: str | None = Field(None, description="F/S per run in order, e.g. FFFFFSSSS.")
    note: str | None = None


class ConcurrencyLevel(_Record):
    concurrency: int
    requests: int
    ok: int
    aggregate_tps: float | None = Field(None, description=metrics.AGGREGATE_TPS.text)
    per_user_decode_tps: float | None = Field(None, description=metrics.PER_USER_DECODE_TPS.text)
    ttft_p50_s: float | None = None
    ttft_p99_s: float | None = None


class ImportedFrom(_Record):
    """Where an imported result came from and what its figure means (servelab import)."""

    tool: str = Field(description="The tool that measured it, e.g. vllm bench serve.")
    tool_version: str | None = Field(None, description="The tool's version, where the file says.")
    file: str = Field(description="The imported file's name.")
    sha256: str = Field(description="SHA-256 of the imported file.")
    figure: str = Field(description="The tool's figure shown as decode t/s (1000/mean_tpot_ms).")
    formula: str = Field(description="How the tool computes that figure.")
    comparable: bool = Field(
        description="The figure's definition matches servelab's decode t/s (ranked beside it)."
    )
    note: str = Field("", description="Where the tool's definition differs from servelab's.")


class Provenance(_Record):
    """Where and with what a result was measured."""

    stack: str
    stack_version: str
    recipe_hash: str | None = None
    recipe: dict[str, Any] | None = None
    endpoint: str
    model: str
    engine: str | None = None
    engine_version: str | None = None
    gpu: list[dict[str, Any]] = Field(default_factory=list)
    host: str
    servelab_version: str
    workload_id: str
    workload_hash: str
    tokens: int
    depth: int = 0
    context: int | None = Field(None, description="Served context length (tokens), when known.")
    imported: ImportedFrom | None = Field(None, description="Set when `servelab import` read it.")

    @field_validator("endpoint")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        return public_url(value)  # a key in user:KEY@host is never stored or printed

    def served_context(self) -> int | None:
        """``context``, else the recipe's ``context.max_model_len``."""
        if self.context is not None:
            return self.context
        value = ((self.recipe or {}).get("context") or {}).get("max_model_len")
        return value if isinstance(value, int) else None


class BenchResult(_Record):
    """A whole bench: provenance, runs, and what was derived from them."""

    id: str | None = None
    provenance: Provenance
    started_at: float
    finished_at: float | None = None
    status: BenchStatus = "running"
    reason: str | None = Field(None, description="Why the bench is invalid or failed.")
    runs: list[RunRecord] = Field(default_factory=list)
    summary: Summary | None = None
    spec: SpecStats | None = None
    regimes: Regimes | None = None
    concurrency: list[ConcurrencyLevel] = Field(default_factory=list)
    load: LoadResult | None = Field(None, description="Sustained load levels (never headline).")
    reported: bool = Field(False, description="Imported from a publication, not measured.")
    source: str | None = Field(None, description="Where a reported result was published.")

    def contract(self) -> dict[str, Any]:
        """The `bench --json` shape of docs/design.md (plus provenance)."""
        runs = [
            {
                key: getattr(run, key)
                for key in (
                    "index",
                    "cold",
                    "ok",
                    "error",
                    "output_tokens",
                    "ttft_s",
                    "decode_tps",
                    "e2e_tps",
                    "chunks",
                    "valid",
                    "invalid_reason",
                    "server_decode_tps",
                    "server_source",
                )
            }
            for run in self.runs
        ]
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "runs": runs,
            "summary": self.summary.model_dump() if self.summary else None,
            "spec": self.spec.model_dump() if self.spec else None,
            "regimes": self.regimes.model_dump() if self.regimes else None,
            "concurrency": [level.model_dump() for level in self.concurrency],
            "load": self.load.model_dump(exclude={"levels": {"__all__": {"histograms"}}})
            if self.load
            else None,
            "provenance": self.provenance.model_dump(),
        }


class CheckResult(_Record):
    """One capability check with the evidence it rests on."""

    name: str
    passed: bool
    detail: str
    evidence: list[dict[str, Any]] = Field(default_factory=list)


class CheckSet(_Record):
    """One check session as stored: its checks and what they ran on (measured or published)."""

    stack: str
    stack_version: str
    checks: list[CheckResult]
    recipe_hash: str | None = None
    recipe: dict[str, Any] | None = None
    endpoint: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    gpu: list[dict[str, Any]] = Field(default_factory=list)
    host: str | None = None
    created_at: float | None = Field(None, description="Unix time; None: when stored.")
    reported: bool = Field(False, description="Published, not measured.")
    source: str | None = Field(None, description="Where a reported set was published.")


class ReportedResult(_Record):
    """A published result (e.g. a blog post's leaderboard row): stored as reported, not measured."""

    stack: str = Field(description="Stack name (a recipe name where one exists).")
    version: str = Field(description="The stack's release the result is for.")
    decode_tps: float = Field(gt=0, description="Published decode t/s (mean).")
    source: str = Field(description="Where it was published.")
    label: str | None = Field(None, description="The publication's name for the stack.")
    vision: bool | None = Field(None, description="Published multimodal support.")
    tools: bool | None = Field(None, description="Published tool-calling support.")
    context: int | None = Field(None, ge=1, description="Context length (tokens).")
    engine: str | None = Field(None, description="Engine (and version) as published.")
    gpu: str | None = Field(None, description="GPU it ran on.")
    n: int | None = Field(None, ge=1, description="Runs behind the mean, if published.")
    stdev: float | None = Field(None, ge=0, description="Sample σ, if published.")
    acceptance_rate: float | None = Field(None, ge=0, le=1, description="Published α.")
    tokens: int | None = Field(None, ge=1, description="Output tokens per run.")
    workload: str | None = Field(None, description="Prompt/workload name.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class TuneRecord(_Record):
    """A tune (a sweep against a matched baseline) as stored; ``plan`` is the tune's own plan."""

    id: str
    created_at: float
    finished_at: float | None = None
    status: TuneStatus = "running"
    recipe_hash: str = Field(description="Hash of the recipe the variants are built from.")
    fingerprint: str = Field(description="Hash of recipe, baseline, sweep and bench settings.")
    key: str = Field(description="The swept recipe path, e.g. speculative.num_speculative_tokens.")
    plan: dict[str, Any] = Field(description="Variants, baseline, order and settings.")


class TuneAttempt(_Record):
    """One attempt at one slot of a tune: the bench it wrote (if any) and why it failed."""

    id: int
    tune_id: str
    slot: str = Field(description="Slot name, e.g. baseline-start, variant-2.")
    bench_id: str | None = None
    bench_status: BenchStatus | None = Field(None, description="None if never begun.")
    error: str | None = None
    host: str | None = None
    created_at: float

"""The neutral engine interface: everything outside engines/ speaks only this vocabulary."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from servelab.engines.memory import KVLayout
from servelab.errors import BadInput
from servelab.recipe import Recipe
from servelab.records import FailureKind

# Failure kinds under short names (the values live in records.FailureKind).
KV_TOO_SMALL = FailureKind.KV_TOO_SMALL
NO_CACHE_MEMORY = FailureKind.NO_CACHE_MEMORY
CUDA_OOM = FailureKind.CUDA_OOM
INVALID_ARGUMENT = FailureKind.INVALID_ARGUMENT
MODEL_NOT_FOUND = FailureKind.MODEL_NOT_FOUND
PORT_IN_USE = FailureKind.PORT_IN_USE
ENGINE_EXITED = FailureKind.ENGINE_EXITED
KV_DTYPE_UNSUPPORTED = FailureKind.KV_DTYPE_UNSUPPORTED
NOT_READY = FailureKind.NOT_READY


@dataclass
class Diagnosis:
    """Why an engine failed, in one line that tells the fix."""

    kind: FailureKind
    message: str
    needed_gib: float | None = None
    available_gib: float | None = None
    max_model_len_fit: int | None = None
    requested_len: int | None = None
    evidence: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            k: data[k]
            for k in ("kind", "message", "needed_gib", "available_gib", "max_model_len_fit")
        } | {"evidence": self.evidence}


@dataclass
class SpecCounters:
    """Cumulative speculative-decoding counters read from an engine's /metrics."""

    drafts: float = 0.0
    drafted: float = 0.0
    accepted: float = 0.0
    per_position: dict[int, float] = field(default_factory=dict)
    present: bool = False


@dataclass(frozen=True)
class Volume:
    """A host folder mounted into the engine's container."""

    host: str
    path: str
    read_only: bool = True


@dataclass
class ContainerForm:
    """An engine server as a container: the data `docker run` and manifests are rendered from.

    ``args`` follow the image's entrypoint; ``passthrough_env`` names variables taken from the
    caller's environment (the API key among them, never its value); ``gpus`` is docker's
    ``--gpus`` value (None: no GPU); ``ipc_host`` shares the host's IPC namespace.
    """

    image: str
    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    passthrough_env: list[str] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    gpus: str | None = None
    ipc_host: bool = False

    def docker_argv(self, host: str, port: int) -> list[str]:
        """The `docker run` command publishing the server on ``host:port``."""
        argv = ["docker", "run", "--rm"]
        if self.gpus:
            argv += ["--gpus", self.gpus]
        if self.ipc_host:
            argv.append("--ipc=host")
        argv += ["-p", f"{host}:{port}:{self.port}"]
        for volume in self.volumes:
            argv += ["-v", f"{volume.host}:{volume.path}" + (":ro" if volume.read_only else "")]
        for name in self.passthrough_env:
            argv += ["-e", name]
        for key, value in self.env.items():
            argv += ["-e", f"{key}={value}"]
        return argv + [self.image, *self.args]


@dataclass
class LaunchPlan:
    """What to run: argv, extra environment, and how to reach the server."""

    argv: list[str]
    env: dict[str, str]
    host: str
    port: int
    served_model: str


class Engine(ABC):
    """One engine adapter: recipe → argv, readiness, metrics names, failure parsing."""

    name: ClassVar[str]
    rank: ClassVar[int] = 100  # listing order (doctor, error messages); lower first
    # The field of a streamed response where the engine puts its own record of the generation.
    response_record_field: ClassVar[str | None] = None
    # The engine's own request fields for the output length (beyond OpenAI's max_tokens).
    length_fields: ClassVar[tuple[str, ...]] = ()
    health_path: ClassVar[str] = "/health"
    metric_prefix: ClassVar[str]
    default_port: ClassVar[int]
    default_ready_timeout: ClassVar[float] = 600.0
    # (log marker, phase name) in load order: what `up` shows while the engine loads.
    load_phases: ClassVar[tuple[tuple[str, str], ...]] = ()

    # --- command lines ---------------------------------------------------------------------
    @abstractmethod
    def argv(
        self, recipe: Recipe, *, host: str, port: int, resolve_models: bool = True
    ) -> list[str]:
        """The exact engine command line for a recipe."""

    def launch_plan(self, recipe: Recipe, *, host: str, port: int) -> LaunchPlan:
        """argv with models resolved, plus environment (API key passed by reference)."""
        argv = self.argv(recipe, host=host, port=port, resolve_models=True)
        return LaunchPlan(
            argv=argv,
            env=dict(recipe.env),
            host=host,
            port=port,
            served_model=self.served_model_name(recipe),
        )

    def container(self, recipe: Recipe) -> ContainerForm:
        """The same server as a container (listening on 0.0.0.0 inside it)."""
        raise NotImplementedError(f"{self.name} has no container form")

    def docker_argv(self, recipe: Recipe, *, port: int) -> list[str]:
        """`docker run` form of the same server, rendered from ``container()``."""
        return self.container(recipe).docker_argv(recipe.server.host, port)

    def served_model_name(self, recipe: Recipe) -> str:
        return recipe.model.served_name or recipe.name

    def gpus_required(self, recipe: Recipe) -> int:
        """GPUs the server needs on one machine: the parallel layout's count."""
        return recipe.parallel.gpus

    def gpus_used(self, recipe: Recipe) -> int | None:
        """How many of the visible GPUs the server occupies (the first ones); None: all."""
        return self.gpus_required(recipe)

    def gpus_serving(self, recipe: Recipe) -> list[dict[str, Any]]:
        """The GPUs here that the recipe's server occupies (NVML; [] without a driver)."""
        from servelab import gpu

        cuda_visible = recipe.env.get("CUDA_VISIBLE_DEVICES", os.getenv("CUDA_VISIBLE_DEVICES"))
        return gpu.visible_gpus(gpu.detect_gpus(), cuda_visible, self.gpus_used(recipe))

    @staticmethod
    def shell(argv: list[str]) -> str:
        """A shell line safe to paste: every argument through ``shlex.quote``, except that a
        leading placeholder of servelab's own (``${SERVELAB_MODELS}``) stays expandable, as
        ``"${SERVELAB_MODELS}"`` followed by the quoted rest; nothing else expands."""
        return " ".join(_shell_word(arg) for arg in argv)

    # --- discovery -------------------------------------------------------------------------
    @abstractmethod
    def find_binary(self, recipe: Recipe | None = None) -> Path | None:
        """The engine executable on this machine, if any."""

    @abstractmethod
    def binary_version(self, path: Path) -> str | None:
        """The version the executable reports."""

    def missing_binary_message(self) -> str:
        return f"{self.name} is not installed here (see `servelab doctor`)"

    def server_version(self, base_url: str, headers: dict[str, str] | None = None) -> str | None:
        """The version a running server reports about itself."""
        return None

    def recognizes(self, base_url: str, headers: dict[str, str] | None = None) -> bool:
        """Whether a server that reported no version is still this engine."""
        return False

    def wrote_log(self, log: str) -> bool:
        """Whether a log looks like this engine's (tried first by ``diagnose_any``)."""
        return False

    # --- what a running server says about itself -----------------------------------------
    def served_context(self, entry: dict[str, Any]) -> int | None:
        """The served context length in one ``data`` entry of the model list, if it says."""
        value = entry.get("context_length")
        return value if isinstance(value, int) else None

    # --- memory ----------------------------------------------------------------------------
    def kv_layout(self, recipe: Recipe, model_dtype: str | None) -> KVLayout:
        """How the engine lays out its KV cache for the recipe (`servelab plan`)."""
        raise BadInput(f"{recipe.name}: no KV-cache model for engine {self.name}")

    @abstractmethod
    def api_key_env(self) -> str:
        """Environment variable through which the engine takes its API key."""

    # --- requests --------------------------------------------------------------------------
    def fixed_length_fields(self, tokens: int) -> dict[str, Any]:
        """Request fields that force exactly ``tokens`` output tokens (ignore EOS)."""
        return {"max_tokens": tokens, "ignore_eos": True}

    def spec_from_response(self, final: dict[str, Any]) -> tuple[int, int] | None:
        """(drafted, accepted) from a response's own record, where the engine gives one."""
        return None

    def response_decode_tps(self, timings: dict[str, Any] | None) -> float | None:
        """The engine's own decode rate for one response (its per-response record), if any."""
        return None

    def tokenize_request(self, model: str, text: str) -> tuple[str, dict[str, Any]] | None:
        """(path, JSON body) that asks the server to tokenize ``text`` raw; None: no endpoint."""
        return None

    def tokenize_count(self, answer: dict[str, Any]) -> int | None:
        """The token count in the server's answer to ``tokenize_request``."""
        tokens = answer.get("tokens")
        return len(tokens) if isinstance(tokens, list) else None

    def decode_from_response(self, final: dict[str, Any]) -> tuple[float, float] | None:
        """(tokens decoded after the first, decode seconds) from a response's own record, where
        the engine gives one: the server's own decode figure for one run."""
        return None

    # --- metrics ---------------------------------------------------------------------------
    def load_counter_names(self) -> dict[str, str]:
        """Neutral name → exposition sample name of the counters a load level is checked
        against: ``generated_tokens`` and, when the engine has them, ``decode_seconds`` (Σ time
        spent decoding) or ``tpot_sum``/``tpot_count`` (a per-request time-per-token histogram)."""
        return {}

    def decode_metric_names(self) -> dict[str, str] | None:
        """``tokens`` (generated-tokens counter) and ``seconds`` (per-request decode-time
        histogram) families in /metrics, for the server's decode figure; None: not exposed."""
        return None

    def spec_counter_names(self) -> dict[str, str]:
        """Neutral counter → metric family name (prometheus parser strips ``_total``)."""
        p = self.metric_prefix
        return {
            "drafts": f"{p}spec_decode_num_drafts",
            "drafted": f"{p}spec_decode_num_draft_tokens",
            "accepted": f"{p}spec_decode_num_accepted_tokens",
            "per_position": f"{p}spec_decode_num_accepted_tokens_per_pos",
        }

    def load_phase(self, log: str) -> str | None:
        """The furthest load phase the log shows (from ``load_phases``), if any."""
        found = None
        for marker, phase in self.load_phases:
            if marker in log:
                found = phase
        return found

    # --- failures --------------------------------------------------------------------------
    @abstractmethod
    def diagnose(self, log: str) -> Diagnosis | None:
        """Classify a failed start from the engine's log; None when nothing is recognised."""

    @staticmethod
    def _search(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                return match
        return None


# Placeholders servelab itself writes into container forms; a recipe's own `${…}` is literal
# (launch passes it to the engine verbatim), so the shell line quotes it literally too.
SHELL_PLACEHOLDERS = ("SERVELAB_MODELS",)
_LEADING_VAR = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}")


def _shell_word(arg: str) -> str:
    match = _LEADING_VAR.match(arg)
    if match is None or match.group(1) not in SHELL_PLACEHOLDERS:
        return shlex.quote(arg)
    rest = arg[match.end() :]
    return f'"${{{match.group(1)}}}"' + (shlex.quote(rest) if rest else "")


def existing(path: str) -> Path | None:
    """``path`` (``~`` expanded) when it exists: a binary the recipe or the environment names."""
    found = Path(path).expanduser()
    return found if found.exists() else None


def version_output(path: Path, timeout: float) -> str | None:
    """What ``path --version`` prints (stdout and stderr); None when it cannot run."""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout + out.stderr


def fixed_length_fields(engine: Engine | None, tokens: int) -> dict[str, Any]:
    """Fields forcing ``tokens`` output tokens; an unknown OpenAI server gets the common ones."""
    if engine is not None:
        return engine.fixed_length_fields(tokens)
    return {"max_tokens": tokens, "ignore_eos": True}


def common_diagnosis(log: str) -> Diagnosis | None:
    """Failures that read alike on every engine (port in use, OS-level OOM of CUDA)."""
    port = re.search(
        r"(address already in use|couldn't bind|could not bind|Errno 98)", log, re.IGNORECASE
    )
    if port:
        return Diagnosis(
            PORT_IN_USE,
            "the port is already in use; rerun with another --port or stop what holds it",
            evidence=_line_of(log, port.start()),
        )
    oom = re.search(r"(CUDA out of memory|torch\.OutOfMemoryError|cudaMalloc failed)", log)
    if oom:
        return Diagnosis(
            CUDA_OOM,
            "the GPU ran out of memory; lower gpu_memory_utilization, max_model_len or "
            "max_num_seqs, or use a smaller quantization",
            evidence=_line_of(log, oom.start()),
        )
    return None


def _line_of(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end != -1 else len(text)].strip()[:300]


line_of = _line_of

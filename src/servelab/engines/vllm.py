"""vLLM's OpenAI-compatible server: argv, container form, version, failure parsing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx

from servelab import model_files
from servelab.engines import register, vllm_kv
from servelab.engines.base import (
    ENGINE_EXITED,
    INVALID_ARGUMENT,
    KV_DTYPE_UNSUPPORTED,
    KV_TOO_SMALL,
    MODEL_NOT_FOUND,
    NO_CACHE_MEMORY,
    ContainerForm,
    Diagnosis,
    Engine,
    Volume,
    common_diagnosis,
    existing,
    line_of,
    version_output,
)
from servelab.engines.memory import KVLayout
from servelab.recipe import Recipe

_GIB = r"([0-9]+(?:\.[0-9]+)?)\s*GiB"
# Tolerant of wording drift: "model's"/"models's"/"model(s)'s", optional parentheses,
# line breaks anywhere, "0.5 GiB" without a trailing zero.
_KV_TOO_SMALL = re.compile(
    r"To\s+serve\s+at\s+least\s+one\s+request\s+with\s+the\s+model\S*\s+max\s+seq\s+len\s*"
    r"\(\s*(\d+)\s*\)\s*,?\s*\(?\s*" + _GIB + r"\s+KV\s+cache\s+is\s+needed.{0,120}?"
    r"available\s+KV\s+cache\s+memory\s*\(\s*" + _GIB + r"\s*\)"
    r"(?:.{0,80}?estimated\s+maximum\s+model\s+length\s+is\s+(\d+))?",
    re.DOTALL | re.IGNORECASE,
)
_GRAPH_HINT = re.compile(r"increase --gpu-memory-utilization to ([0-9.]+)")
# FlashAttention 4 (CuTe), which vLLM picks for head sizes > 256 on Hopper, has no fp8 path
# there: the server starts, then dies at the first request.
_FP8_KERNEL = re.compile(r"FP8 is only supported on (SM\s*\d+)[^\n]*?for ([\w ]+?)\.?(?:\n|$)")
_NO_CACHE = re.compile(r"No\s+available\s+memory\s+for\s+the\s+cache\s+blocks", re.IGNORECASE)
_BAD_ARG = [
    re.compile(r"error: unrecognized arguments: .*"),
    re.compile(r"error: argument [^\n]*"),
    re.compile(r"error: the following arguments are required: .*"),
    re.compile(r"Value error, ([^\n\[]*)"),
    re.compile(r"pydantic[^\n]*ValidationError[^\n]*"),
]
_OVER_NATIVE = re.compile(
    r"User-specified max_model_len \((\d+)\) is greater than the derived max_model_len "
    r"\(max_position_embeddings=(\d+)"
)
_NO_MODEL = [
    re.compile(r"is not a local folder and is not a valid model identifier[^\n]*"),
    re.compile(r"Repository Not Found[^\n]*"),
    re.compile(r"(?:HFValidationError|LocalEntryNotFoundError)[^\n]*"),
    re.compile(r"Cannot find an appropriate cached snapshot folder[^\n]*"),
    re.compile(r"Invalid repository ID or local directory specified[^\n]*"),
]

_METHODS = {"draft_model": "draft_model", "ngram": "ngram"}


@register
class VLLM(Engine):
    name = "vllm"
    rank = 0
    metric_prefix = "vllm:"
    default_port = 8000
    load_phases = (
        ("Initializing a V1 LLM engine", "initialising the engine"),
        ("Starting to load model", "loading weights"),
        ("Model loading took", "weights loaded"),
        ("torch.compile", "compiling"),
        ("Capturing CUDA graph", "capturing CUDA graphs"),
        ("Graph capturing finished", "CUDA graphs captured"),
        ("Starting vLLM API server", "ready"),
    )

    def _model(self, recipe: Recipe, resolve_models: bool) -> str:
        if resolve_models:
            return model_files.resolve(recipe.model, needs_file=False)
        return model_files.describe(recipe.model)

    def speculative_config(self, recipe: Recipe, resolve_models: bool = True) -> dict[str, Any]:
        spec = recipe.speculative
        assert spec is not None
        config: dict[str, Any] = {}
        if spec.model is not None:
            config["model"] = (
                model_files.resolve(spec.model, needs_file=False)
                if resolve_models
                else model_files.describe(spec.model)
            )
        config["method"] = _METHODS.get(spec.method, spec.method)
        if spec.num_speculative_tokens is not None:
            config["num_speculative_tokens"] = spec.num_speculative_tokens
        if spec.prompt_lookup_min is not None:
            config["prompt_lookup_min"] = spec.prompt_lookup_min
        if spec.prompt_lookup_max is not None:
            config["prompt_lookup_max"] = spec.prompt_lookup_max
        if spec.draft_tensor_parallel_size is not None:
            config["draft_tensor_parallel_size"] = spec.draft_tensor_parallel_size
        config.update(spec.extra)
        return config

    def argv(
        self, recipe: Recipe, *, host: str, port: int, resolve_models: bool = True
    ) -> list[str]:
        args = ["vllm", "serve", self._model(recipe, resolve_models)]
        return (
            args + ["--host", host, "--port", str(port)] + self.server_flags(recipe, resolve_models)
        )

    def server_flags(self, recipe: Recipe, resolve_models: bool = True) -> list[str]:
        """Every flag after the model, host and port."""
        out: list[str] = []
        if recipe.model.served_name:
            out += ["--served-model-name", recipe.model.served_name]
        if recipe.model.revision:
            out += ["--revision", recipe.model.revision]
        ctx, lim, feat = recipe.context, recipe.limits, recipe.features
        if ctx.max_model_len is not None:
            out += ["--max-model-len", str(ctx.max_model_len)]
        if ctx.kv_cache_dtype:
            out += ["--kv-cache-dtype", ctx.kv_cache_dtype]
        if ctx.prefix_caching is True:
            out.append("--enable-prefix-caching")
        elif ctx.prefix_caching is False:
            out.append("--no-enable-prefix-caching")
        if lim.gpu_memory_utilization is not None:
            out += ["--gpu-memory-utilization", f"{lim.gpu_memory_utilization:g}"]
        if lim.max_num_batched_tokens is not None:
            out += ["--max-num-batched-tokens", str(lim.max_num_batched_tokens)]
        if lim.max_num_seqs is not None:
            out += ["--max-num-seqs", str(lim.max_num_seqs)]
        if lim.limit_mm_per_prompt is not None:
            out += [
                "--limit-mm-per-prompt",
                json.dumps(lim.limit_mm_per_prompt, separators=(",", ":")),
            ]
        if feat.tools and feat.tool_parser:
            # vLLM refuses auto tool choice without a parser.
            out += ["--enable-auto-tool-choice", "--tool-call-parser", feat.tool_parser]
        if feat.reasoning_parser:
            out += ["--reasoning-parser", feat.reasoning_parser]
        if recipe.runtime.enforce_eager:
            out.append("--enforce-eager")
        par = recipe.parallel
        if par.tensor > 1:
            out += ["--tensor-parallel-size", str(par.tensor)]
        if par.pipeline > 1:
            out += ["--pipeline-parallel-size", str(par.pipeline)]
        if par.data > 1:
            out += ["--data-parallel-size", str(par.data)]
        if par.executor:
            out += ["--distributed-executor-backend", par.executor]
        if recipe.speculative is not None:
            config = self.speculative_config(recipe, resolve_models)
            out += ["--speculative-config", json.dumps(config, separators=(",", ":"))]
        return out + list(recipe.extra_args)

    def launch_plan(self, recipe: Recipe, *, host: str, port: int):
        plan = super().launch_plan(recipe, host=host, port=port)
        if recipe.parallel.gpus > 1:
            # NVLink multicast stays off on shared hosts.
            plan.env.setdefault("NCCL_NVLS_ENABLE", "0")
        return plan

    def tokenize_request(self, model: str, text: str) -> tuple[str, dict[str, Any]] | None:
        return "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}

    def load_counter_names(self) -> dict[str, str]:
        return {
            "generated_tokens": "vllm:generation_tokens_total",
            "decode_seconds": "vllm:request_decode_time_seconds_sum",
            "decode_requests": "vllm:request_decode_time_seconds_count",
        }

    def api_key_env(self) -> str:
        """vLLM reads the key from this variable, so it never appears in argv or logs."""
        return "VLLM_API_KEY"

    def container(self, recipe: Recipe) -> ContainerForm:
        image = recipe.engine.image or (
            f"vllm/vllm-openai:v{recipe.engine.version}"
            if recipe.engine.version
            else "vllm/vllm-openai:latest"
        )
        gpus = recipe.parallel.gpus
        model = ["--model", model_files.describe(recipe.model), "--host", "0.0.0.0"]
        return ContainerForm(
            image=image,
            args=[*model, "--port", "8000", *self.server_flags(recipe, resolve_models=False)],
            port=8000,
            env=dict(recipe.env),
            passthrough_env=[self.api_key_env()],
            volumes=[
                Volume("${HOME}/.cache/huggingface", "/root/.cache/huggingface", read_only=False)
            ],
            gpus="all" if gpus <= 1 else f'"device={",".join(map(str, range(gpus)))}"',
            ipc_host=True,
        )

    def decode_metric_names(self) -> dict[str, str]:
        """Δgeneration_tokens counts every generated token (the first included); the decode-time
        histogram times first token → last token, one observation per finished request."""
        return {
            "tokens": "vllm:generation_tokens",
            "seconds": "vllm:request_decode_time_seconds",
        }

    def kv_layout(self, recipe: Recipe, model_dtype: str | None) -> KVLayout:
        return vllm_kv.kv_layout(recipe, model_dtype)

    def served_context(self, entry: dict[str, Any]) -> int | None:
        value = entry.get("max_model_len")
        return value if isinstance(value, int) else super().served_context(entry)

    def wrote_log(self, log: str) -> bool:
        return "vllm" in log.lower()

    def server_version(self, base_url: str, headers: dict[str, str] | None = None) -> str | None:
        try:
            response = httpx.get(base_url + "/version", headers=headers, timeout=5.0)
            return response.json().get("version") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def missing_binary_message(self) -> str:
        return "vllm is not installed here (pip install vllm on a GPU host, or set engine.binary)"

    def find_binary(self, recipe: Recipe | None = None) -> Path | None:
        if recipe is not None and recipe.engine.binary:
            return existing(recipe.engine.binary)
        found = shutil.which("vllm")
        return Path(found) if found else None

    def binary_version(self, path: Path) -> str | None:
        out = version_output(path, timeout=120)
        match = re.search(r"\d+\.\d+\.\d+\S*", out) if out is not None else None
        return match.group(0) if match else None

    def diagnose(self, log: str) -> Diagnosis | None:
        """Memory first (the KV cache, the cache blocks, the fp8 kernel), then what reads alike
        on every engine, then the model, the arguments and the root exception."""
        return (
            _memory_diagnosis(log)
            or _fp8_diagnosis(log)
            or common_diagnosis(log)
            or self._setup_diagnosis(log)
        )

    def _setup_diagnosis(self, log: str) -> Diagnosis | None:
        match = self._search(_NO_MODEL, log)
        if match:
            return Diagnosis(
                MODEL_NOT_FOUND,
                f"the model could not be found: {match.group(0).strip()[:160]}; check model.id, "
                "the path, or the hub cache (HF_HUB_OFFLINE)",
                evidence=line_of(log, match.start()),
            )
        match = _OVER_NATIVE.search(log)
        if match:
            requested, native = int(match.group(1)), int(float(match.group(2)))
            return Diagnosis(
                INVALID_ARGUMENT,
                f"max_model_len {requested} is past the model's native context {native}; use "
                f"--max-model-len {native}, or set VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 in env to "
                "accept RoPE scaling past it",
                requested_len=requested,
                evidence=line_of(log, match.start()),
            )
        match = self._search(_BAD_ARG, log)
        if match:
            text = (match.group(1) if match.groups() else match.group(0)).strip()
            return Diagnosis(
                INVALID_ARGUMENT,
                f"the engine rejected an argument: {text[:200]}; check the recipe's flags, "
                "extra_args and the engine version",
                evidence=line_of(log, match.start()),
            )
        root = _root_cause(log)
        if root:
            return Diagnosis(ENGINE_EXITED, f"the engine exited: {root[:200]}", evidence=root[:300])
        return None


_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception)): ([^\n]+)")
_WRAPPERS = (
    "Engine core initialization failed",
    "EngineCore encountered an issue",
    "See root cause above",
    "See stack trace",
)


def _root_cause(log: str) -> str | None:
    """The first exception line that is not a warning's example or a wrapper of the cause."""
    for match in _EXCEPTION.finditer(log):
        line = line_of(log, match.start())
        if " WARNING " in line or " INFO " in line:
            continue
        if any(wrapper in match.group(2) for wrapper in _WRAPPERS):
            continue
        return f"{match.group(1)}: {match.group(2).strip()}"
    return None


def _memory_diagnosis(log: str) -> Diagnosis | None:
    """The KV cache too small for the length, or no memory left for the cache blocks."""
    match = _KV_TOO_SMALL.search(log)
    if match:
        requested, needed, available, estimate = match.groups()
        fit = int(estimate) if estimate else None
        advice = (
            f"the largest context that fits is {fit}; rerun with --max-model-len {fit}, "
            "or raise gpu_memory_utilization, or use --fit-context"
            if fit
            else "lower max_model_len or raise gpu_memory_utilization"
        )
        return Diagnosis(
            KV_TOO_SMALL,
            f"KV cache too small: max_model_len {requested} needs {needed} GiB of KV cache, "
            f"{available} GiB is available; {advice}",
            needed_gib=float(needed),
            available_gib=float(available),
            max_model_len_fit=fit,
            requested_len=int(requested),
            evidence=line_of(log, match.start()),
        )
    match = _NO_CACHE.search(log)
    if match:
        hint = _GRAPH_HINT.search(log)
        advice = (
            f" (vLLM reserves its CUDA-graph estimate too: it suggests "
            f"--gpu-memory-utilization {hint.group(1)})"
            if hint
            else ""
        )
        return Diagnosis(
            NO_CACHE_MEMORY,
            "no GPU memory is left for the KV cache after loading the weights; raise "
            f"gpu_memory_utilization{advice}, or free the GPU, or use a smaller "
            "model/quantization",
            evidence=line_of(log, match.start()),
        )
    return None


def _fp8_diagnosis(log: str) -> Diagnosis | None:
    """An fp8 KV cache the chosen attention kernel cannot run."""
    match = _FP8_KERNEL.search(log)
    if match:
        arch, kernel = match.group(1), match.group(2).strip()
        return Diagnosis(
            KV_DTYPE_UNSUPPORTED,
            f"the fp8 KV cache is not supported by the attention kernel vLLM chose ({kernel}: "
            f"fp8 only on {arch}); set context.kv_cache_dtype: auto, or pick another "
            "attention backend",
            evidence=line_of(log, match.start()),
        )
    return None

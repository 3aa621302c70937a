"""Recipes: a declarative serving stack, validated strictly, loaded from YAML, hashed."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from servelab.errors import BadInput
from servelab.options import DEFAULTS
from servelab.paths import data_dir

EngineName = Literal["vllm", "llamacpp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelRef(_Strict):
    """Where a model comes from."""

    id: str = Field(
        description="Hub repo id (org/name) or a path; a relative path is looked up under "
        "SERVELAB_MODELS first."
    )
    file: str | None = Field(None, description="A file inside that folder or repo (GGUF).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    quantization: str | None = Field(None, description="Weight format, e.g. awq-4bit, nvfp4, f32.")
    hub_repo: str | None = Field(
        None, description="Hub repo to download from when the local path is absent."
    )
    hub_file: str | None = Field(None, description="File inside hub_repo (GGUF engines).")
    served_name: str | None = Field(None, description="Name the server exposes in /v1/models.")

    @field_validator("id")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class EngineSpec(_Strict):
    """Which engine serves the stack."""

    name: EngineName = Field(description="Engine: vllm or llamacpp.")
    version: str | None = Field(None, description="Engine release the stack was tuned on.")
    image: str | None = Field(None, description="Container image (docker/compose/k8s forms).")
    binary: str | None = Field(None, description="Path of the engine executable, if not found.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class Speculative(_Strict):
    """Speculative decoding: a drafter proposes tokens, the target verifies them."""

    method: str = Field(
        description="Neutral method name: mtp, gemma4_mtp, eagle, eagle3, dflash, draft_model, "
        "ngram, suffix (the engine adapter maps it to its own flag)."
    )
    model: ModelRef | None = Field(None, description="Draft model (draft_model, eagle, dflash…).")
    num_speculative_tokens: int | None = Field(
        None, ge=1, description="Tokens drafted per step (k); None keeps the engine's default."
    )
    prompt_lookup_min: int | None = Field(None, ge=1, description="n-gram: shortest match.")
    prompt_lookup_max: int | None = Field(None, ge=1, description="n-gram: longest match.")
    draft_tensor_parallel_size: int | None = Field(None, ge=1, description="Draft TP size.")
    extra: dict[str, Any] = Field(
        default_factory=dict, description="More keys for the engine's speculative config."
    )

    @field_validator("model", mode="before")
    @classmethod
    def _model_from_text(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class Context(_Strict):
    """Context length and KV cache."""

    max_model_len: int | None = Field(None, ge=1, description="Served context length (tokens).")
    kv_cache_dtype: str | None = Field(None, description="KV cache dtype: auto, fp8, bf16, f16…")
    prefix_caching: bool | None = Field(None, description="Reuse KV of shared prompt prefixes.")


class Limits(_Strict):
    """Memory and batching limits."""

    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="Fraction of GPU memory the engine may take."
    )
    max_num_batched_tokens: int | None = Field(None, ge=1, description="Tokens per step.")
    max_num_seqs: int | None = Field(None, ge=1, description="Concurrent sequences.")
    limit_mm_per_prompt: dict[str, int] | None = Field(
        None, description='Multimodal items per prompt, e.g. {"image": 1}.'
    )


class Features(_Strict):
    """What the stack is meant to do (checked by `servelab check`)."""

    vision: bool = Field(False, description="Accepts images.")
    tools: bool = Field(False, description="Tool calling is on.")
    tool_parser: str | None = Field(None, description="Engine tool-call parser (vLLM).")
    reasoning_parser: str | None = Field(None, description="Engine reasoning parser (vLLM).")
    mmproj: ModelRef | None = Field(None, description="Vision projector (llama.cpp --mmproj).")


class Runtime(_Strict):
    """CPU threads and GPU offload (llama.cpp mostly)."""

    threads: int | None = Field(None, ge=1, description="Threads for the target model.")
    threads_draft: int | None = Field(None, ge=1, description="Threads for the draft model.")
    gpu_layers: int | None = Field(None, ge=0, description="Layers offloaded to the GPU.")
    gpu_layers_draft: int | None = Field(None, ge=0, description="Draft layers on the GPU.")
    parallel_slots: int | None = Field(None, ge=1, description="Server slots (llama.cpp -np).")
    enforce_eager: bool | None = Field(None, description="vLLM: no CUDA graphs.")


class Parallel(_Strict):
    """Multi-GPU layout, driven by the engine itself."""

    tensor: int = Field(1, ge=1, description="Tensor-parallel size.")
    pipeline: int = Field(1, ge=1, description="Pipeline-parallel size.")
    data: int = Field(1, ge=1, description="Data-parallel size.")
    executor: Literal["mp", "ray"] | None = Field(None, description="vLLM executor backend.")
    split_mode: Literal["none", "layer", "row"] | None = Field(
        None, description="llama.cpp --split-mode."
    )
    tensor_split: list[float] | None = Field(None, description="llama.cpp --tensor-split.")

    @property
    def gpus(self) -> int:
        return self.tensor * self.pipeline * self.data


class Server(_Strict):
    """How the server listens."""

    host: str = Field("127.0.0.1", description="Bind address (loopback unless told otherwise).")
    port: int | None = Field(None, ge=1, le=65535, description="Port; a free one if unset.")
    api_key_env: str | None = Field(
        None, description="Env var holding the API key to require (never stored)."
    )


class BenchDefaults(_Strict):
    """Defaults for `servelab bench` on this recipe."""

    runs: int = Field(DEFAULTS.runs, ge=1, description="Runs per bench.")
    tokens: int = Field(DEFAULTS.tokens, ge=1, description="Output tokens per run.")
    prompt: str = Field(DEFAULTS.workload, description="Workload name.")


class Recipe(_Strict):
    """A serving stack: engine, model, speculation, context, limits, features."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Stack name (slug).")
    version: str = Field("0.0.0", description="The stack's own release, e.g. 1.0.5.")
    description: str = Field("", description="One line about the stack.")
    engine: EngineSpec = Field(description="Engine and its version/image.")
    model: ModelRef = Field(description="Target model.")
    speculative: Speculative | None = Field(None, description="Speculative decoding, or none.")
    context: Context = Field(default_factory=Context, description="Context and KV cache.")
    limits: Limits = Field(default_factory=Limits, description="Memory and batching limits.")
    features: Features = Field(default_factory=Features, description="Vision, tools, parsers.")
    runtime: Runtime = Field(default_factory=Runtime, description="Threads and offload.")
    parallel: Parallel = Field(default_factory=Parallel, description="Multi-GPU layout.")
    server: Server = Field(default_factory=Server, description="Bind address and port.")
    bench: BenchDefaults = Field(default_factory=BenchDefaults, description="Bench defaults.")
    extra_args: list[str] = Field(default_factory=list, description="More engine flags, verbatim.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for the engine.")
    hardware: str | None = Field(None, description="What the stack was tuned for.")
    notes: list[str] = Field(default_factory=list, description="Provenance, unknowns, caveats.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def canonical(self) -> dict[str, Any]:
        """The recipe as plain data (what is hashed and stored)."""
        return self.model_dump(mode="json")

    @property
    def hash(self) -> str:
        """Stable short hash of the full recipe."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def without_speculation(self) -> Recipe:
        """The no-speculation twin (same engine, same model)."""
        data = self.canonical()
        data["speculative"] = None
        data["name"] = f"{self.name}-nospec"
        return Recipe.model_validate(data)

    def with_value(self, path: str, value: Any) -> Recipe:
        """A variant with one dotted key set (e.g. speculative.num_speculative_tokens)."""
        data = self.canonical()
        node = data
        keys = path.split(".")
        for key in keys[:-1]:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise BadInput(f"{path}: {key} is not a section")
        node[keys[-1]] = value
        try:
            return Recipe.model_validate(data)
        except ValidationError as exc:
            raise BadInput(_describe(exc, source=f"{self.name} with {path}={value}")) from None


# --- loading ------------------------------------------------------------------------------


def _describe(exc: ValidationError, source: str) -> str:
    """One line: source, key path, what was expected."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "missing":
        what = "required key is missing"
    else:
        got = first.get("input")
        shown = json.dumps(got, default=str) if not isinstance(got, dict) else "a mapping"
        what = f"{first['msg'].lower()} (got {shown[:60]})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {loc}: {what}{more}"


def recipe_from_text(text: str, source: str) -> Recipe:
    """Parse and validate a YAML recipe; errors are one line naming source and key path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise BadInput(f"{source}: YAML syntax error{where}: {problem}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): expected a mapping of recipe keys")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise BadInput(_describe(exc, source)) from None


def user_recipes_dir() -> Path:
    """Where a user's own recipes live (listed beside the bundled ones)."""
    return data_dir() / "recipes"


def _bundled() -> dict[str, str]:
    folder = resources.files("servelab") / "recipes"
    return {
        entry.name.rsplit(".", 1)[0]: entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml"))
    }


def load_recipe(ref: str | Path) -> Recipe:
    """A bundled recipe by name, a user recipe by name, or a YAML file by path."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise BadInput(f"{ref}: no such recipe file")
        return recipe_from_text(path.read_text(), str(path))
    user = user_recipes_dir() / f"{ref}.yaml"
    if user.is_file():
        return recipe_from_text(user.read_text(), str(user))
    bundled = _bundled()
    if str(ref) in bundled:
        return recipe_from_text(bundled[str(ref)], f"recipes/{ref}.yaml")
    names = ", ".join(sorted(bundled))
    raise BadInput(f"{ref}: no recipe of that name (bundled: {names}) and no such file")


def list_recipes() -> list[tuple[str, Recipe]]:
    """(origin, recipe) for every bundled and user recipe; origin is 'bundled' or a path."""
    found: list[tuple[str, Recipe]] = []
    for name, text in sorted(_bundled().items()):
        found.append(("bundled", recipe_from_text(text, f"recipes/{name}.yaml")))
    folder = user_recipes_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.y*ml")):
            found.append((str(path), recipe_from_text(path.read_text(), str(path))))
    return found

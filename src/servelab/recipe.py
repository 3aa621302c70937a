"""Recipes: a declarative serving stack, validated strictly, loaded from YAML, hashed."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from servelab import safe_yaml
from servelab.errors import BadInput
from servelab.options import DEFAULTS
from servelab.paths import data_dir
from servelab.recipe_values import (
    Count,
    EnvName,
    EnvValue,
    ExtraScalar,
    FiniteFloat,
    FlagName,
    Host,
    NonNegative,
    ParallelSize,
    PathText,
    Prose,
    Text,
)

# A stack name: also a file name under the state dir (logs, registry), so never a path.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelRef(_Strict):
    """Where a model comes from."""

    id: PathText = Field(
        description="Hub repo id (org/name) or a path; a relative path is looked up under "
        "SERVELAB_MODELS first."
    )
    file: PathText | None = Field(None, description="A file inside that folder or repo (GGUF).")
    revision: Text | None = Field(None, description="Hub revision (branch, tag or commit).")
    quantization: Text | None = Field(None, description="Weight format, e.g. awq-4bit, nvfp4, f32.")
    hub_repo: PathText | None = Field(
        None, description="Hub repo to download from when the local path is absent."
    )
    hub_file: PathText | None = Field(None, description="File inside hub_repo (GGUF engines).")
    served_name: Text | None = Field(None, description="Model id the server lists and answers to.")

    @field_validator("id")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class EngineSpec(_Strict):
    """Which engine serves the stack."""

    name: str = Field(description="Engine: a registered adapter (vllm, llamacpp, …).")
    version: Text | None = Field(None, description="Engine release the stack was tuned on.")
    image: Text | None = Field(None, description="Container image (docker/compose/k8s forms).")
    binary: PathText | None = Field(
        None, description="Path of the engine executable, if not found."
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from servelab.engines import engine_names

        names = engine_names()
        if value not in names:
            quoted = [repr(name) for name in names]
            expected = (
                ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
            )
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class Speculative(_Strict):
    """Speculative decoding: a drafter proposes tokens, the target verifies them."""

    method: Text = Field(
        description="Neutral method name: mtp, gemma4_mtp, eagle, eagle3, dflash, draft_model, "
        "ngram, suffix (the engine adapter maps it to its own flag)."
    )
    model: ModelRef | None = Field(None, description="Draft model (draft_model, eagle, dflash…).")
    num_speculative_tokens: Count | None = Field(
        None, description="Tokens drafted per step (k); None keeps the engine's default."
    )
    prompt_lookup_min: Count | None = Field(None, description="n-gram: shortest match.")
    prompt_lookup_max: Count | None = Field(None, description="n-gram: longest match.")
    draft_tensor_parallel_size: ParallelSize | None = Field(None, description="Draft TP size.")
    extra: dict[FlagName, ExtraScalar] = Field(
        default_factory=dict,
        description="More keys for the engine's speculative config (scalar values).",
    )

    @field_validator("model", mode="before")
    @classmethod
    def _model_from_text(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lookup_order(self) -> Speculative:
        low, high = self.prompt_lookup_min, self.prompt_lookup_max
        if low is not None and high is not None and low > high:
            raise ValueError(f"prompt_lookup_min ({low}) is above prompt_lookup_max ({high})")
        return self


class Context(_Strict):
    """Context length and KV cache."""

    max_model_len: Count | None = Field(None, description="Served context length (tokens).")
    kv_cache_dtype: Text | None = Field(None, description="KV cache dtype: auto, fp8, bf16, f16…")
    prefix_caching: bool | None = Field(None, description="Reuse KV of shared prompt prefixes.")


class Limits(_Strict):
    """Memory and batching limits."""

    gpu_memory_utilization: FiniteFloat | None = Field(
        None, gt=0, le=1, description="Fraction of GPU memory the engine may take."
    )
    max_num_batched_tokens: Count | None = Field(None, description="Tokens per step.")
    max_num_seqs: Count | None = Field(None, description="Concurrent sequences.")
    limit_mm_per_prompt: dict[FlagName, NonNegative] | None = Field(
        None, description='Multimodal items per prompt, e.g. {"image": 1}.'
    )


class Features(_Strict):
    """What the stack is meant to do (checked by `servelab check`)."""

    vision: bool = Field(False, description="Accepts images.")
    tools: bool = Field(False, description="Tool calling is on.")
    tool_parser: Text | None = Field(None, description="Engine tool-call parser (vLLM).")
    reasoning_parser: Text | None = Field(None, description="Engine reasoning parser (vLLM).")
    mmproj: ModelRef | None = Field(None, description="Vision projector model (llama.cpp).")


class Runtime(_Strict):
    """CPU threads and GPU offload (llama.cpp mostly)."""

    threads: Count | None = Field(None, description="Threads for the target model.")
    threads_draft: Count | None = Field(None, description="Threads for the draft model.")
    gpu_layers: NonNegative | None = Field(None, description="Layers offloaded to the GPU.")
    gpu_layers_draft: NonNegative | None = Field(None, description="Draft layers on the GPU.")
    parallel_slots: Count | None = Field(None, description="Server slots (llama.cpp -np).")
    enforce_eager: bool | None = Field(None, description="vLLM: no CUDA graphs.")


class Parallel(_Strict):
    """Multi-GPU layout, driven by the engine itself."""

    tensor: ParallelSize = Field(1, description="Tensor-parallel size.")
    pipeline: ParallelSize = Field(1, description="Pipeline-parallel size.")
    data: ParallelSize = Field(1, description="Data-parallel size.")
    executor: Literal["mp", "ray"] | None = Field(None, description="vLLM executor backend.")
    split_mode: Literal["none", "layer", "row"] | None = Field(
        None, description="llama.cpp --split-mode."
    )
    tensor_split: list[Annotated[FiniteFloat, Field(ge=0)]] | None = Field(
        None, max_length=256, description="llama.cpp --tensor-split (shares per GPU, ≥ 0)."
    )

    @field_validator("tensor_split")
    @classmethod
    def _some_share(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not any(share > 0 for share in value):
            raise ValueError("needs at least one share above 0")
        return value

    @property
    def gpus(self) -> int:
        return self.tensor * self.pipeline * self.data


class Server(_Strict):
    """How the server listens."""

    host: Host = Field("127.0.0.1", description="Bind address (loopback unless told otherwise).")
    port: int | None = Field(None, ge=1, le=65535, description="Port; a free one if unset.")
    api_key_env: EnvName | None = Field(
        None, description="Env var holding the API key to require (never stored)."
    )


class BenchDefaults(_Strict):
    """Defaults for `servelab bench` on this recipe."""

    runs: int = Field(DEFAULTS.runs, ge=1, le=100_000, description="Runs per bench.")
    tokens: Count = Field(DEFAULTS.tokens, description="Output tokens per run.")
    prompt: Text = Field(DEFAULTS.workload, description="Workload name.")


class Recipe(_Strict):
    """A serving stack: engine, model, speculation, context, limits, features."""

    name: str = Field(pattern=NAME_PATTERN, max_length=128, description="Stack name (slug).")
    version: Text = Field("0.0.0", max_length=100, description="The stack's own release.")
    description: Prose = Field("", description="One line about the stack.")
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
    extra_args: list[Text] = Field(
        default_factory=list, max_length=1024, description="More engine flags, verbatim."
    )
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="Environment for the engine."
    )
    hardware: Prose | None = Field(None, description="What the stack was tuned for.")
    notes: list[Prose] = Field(default_factory=list, description="Provenance, unknowns, caveats.")

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


def _loc(parts: tuple[Any, ...]) -> str:
    """A key path: ``env.A=B (key)`` when a mapping's key itself is wrong."""
    names = [str(part)[:40] for part in parts if part != "[key]"]
    text = (".".join(names) or "(top level)") + (" (key)" if "[key]" in parts else "")
    return safe_yaml.printable(text)


def _shown(value: Any) -> str:
    """A short, printable picture of an offending value (huge integers by their size)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        return f"an integer of {len(str(abs(value))) if abs(value) < 10**4000 else 'many'} digits"
    text = json.dumps(value, default=str, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "…"


def _describe(exc: ValidationError, source: str) -> str:
    """One line: source, key path, what was wrong — the first error in full, then how many
    more (each of them is the same kind of line once the first is fixed)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "missing":
        what = "required key is missing"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        what = f"{message[:1].lower()}{message[1:]} (got {_shown(first.get('input'))})"
    more = ""
    if len(errors) > 1:
        others = ", ".join(_loc(error["loc"]) for error in errors[1:4])
        more = f" (also: {others}{', …' if len(errors) > 4 else ''})"
    return f"{source}: {_loc(first['loc'])}: {what}{more}"


def _shorthand(data: dict[str, Any]) -> dict[str, Any]:
    """`engine: vllm` means `engine: {name: vllm}` (the form most people try first)."""
    if isinstance(data.get("engine"), str):
        return {**data, "engine": {"name": data["engine"]}}
    return data


def recipe_from_text(text: str, source: str) -> Recipe:
    """Parse (under safe_yaml's limits) and validate a YAML recipe; errors are one line naming
    source and key path."""
    data = safe_yaml.load(text, source)
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): expected a mapping of recipe keys")
    try:
        return Recipe.model_validate(_shorthand(data))
    except ValidationError as exc:
        raise BadInput(_describe(exc, source)) from None


def recipe_from_file(path: Path) -> Recipe:
    """A recipe file: size-limited, strict UTF-8, then ``recipe_from_text``."""
    return recipe_from_text(safe_yaml.read_text(path), str(path))


def user_recipes_dir() -> Path:
    """Where a user's own recipes live (listed beside the bundled ones)."""
    return data_dir() / "recipes"


def _bundled() -> dict[str, str]:
    folder = resources.files("servelab") / "recipes"
    return {
        entry.name.rsplit(".", 1)[0]: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml"))
    }


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL
        return False


def load_recipe(ref: str | Path) -> Recipe:
    """A bundled recipe by name, a user recipe by name, or a YAML file by path."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or _is_file(path):
        if not _is_file(path):
            raise BadInput(f"{ref}: no such recipe file")
        return recipe_from_file(path)
    user = user_recipes_dir() / f"{ref}.yaml"
    if _is_file(user):
        return recipe_from_file(user)
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
            found.append((str(path), recipe_from_file(path)))
    return found

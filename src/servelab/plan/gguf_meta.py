"""Model facts from GGUF metadata (the `gguf` package's reader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servelab.errors import BadInput
from servelab.plan.facts import Layer, ModelFacts

# Architectures whose sliding/full pattern is fixed in llama.cpp rather than stored in the file.
_IMPLIED_PATTERN = {"gemma2": 2, "gemma3": 6, "cohere2": 4}
_FILE_TYPE_DTYPE = {0: "f32", 1: "f16", 32: "bf16"}


def _fields(path: Path) -> tuple[dict[str, Any], list[Any]]:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except Exception as exc:  # the reader raises ValueError, KeyError, struct errors…
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise BadInput(f"{path}: not a readable GGUF file ({reason})") from None
    values: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key != "tokenizer.ggml.model":
            values[key] = len(field.data)  # only sizes matter here
            continue
        try:
            values[key] = field.contents()
        except (ValueError, IndexError, UnicodeDecodeError):
            continue
    return values, list(reader.tensors)


def _per_layer(value: Any, count: int, default: int) -> list[int]:
    if isinstance(value, list):
        return [int(item) for item in value] if len(value) == count else [int(value[0])] * count
    return [int(value if value is not None else default)] * count


def _sliding_flags(meta: dict[str, Any], arch: str, count: int) -> list[bool]:
    pattern = meta.get(f"{arch}.attention.sliding_window_pattern")
    window = meta.get(f"{arch}.attention.sliding_window")
    if isinstance(pattern, list) and len(pattern) == count:
        return [bool(flag) for flag in pattern]
    every = pattern if isinstance(pattern, int) else _IMPLIED_PATTERN.get(arch)
    if window and every:
        return [(index + 1) % every != 0 for index in range(count)]
    return [bool(window)] * count


def facts_from_gguf(path: Path) -> ModelFacts:
    """ModelFacts from a .gguf file: shapes from metadata, exact weight bytes from tensors."""
    meta, tensors = _fields(path)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise BadInput(f"{path}: GGUF metadata has no general.architecture")
    count = meta.get(f"{arch}.block_count")
    hidden = meta.get(f"{arch}.embedding_length")
    if not isinstance(count, int) or not isinstance(hidden, int):
        raise BadInput(f"{path}: GGUF metadata lacks {arch}.block_count or embedding_length")
    heads = _per_layer(meta.get(f"{arch}.attention.head_count"), count, 1)
    kv = _per_layer(meta.get(f"{arch}.attention.head_count_kv"), count, heads[0])
    default_dim = hidden // max(heads[0], 1)
    k_dim = meta.get(f"{arch}.attention.key_length") or default_dim
    v_dim = meta.get(f"{arch}.attention.value_length") or k_dim
    k_swa = meta.get(f"{arch}.attention.key_length_swa") or k_dim
    v_swa = meta.get(f"{arch}.attention.value_length_swa") or v_dim
    window = meta.get(f"{arch}.attention.sliding_window")
    sliding = _sliding_flags(meta, arch, count)
    has_state = any(key.startswith(f"{arch}.ssm.") for key in meta)
    layers: list[Layer] = []
    for index in range(count):
        if kv[index] == 0:
            layers.append(Layer("state" if has_state else "none"))
        elif sliding[index]:
            layers.append(Layer("sliding", kv[index], (k_swa + v_swa) // 2, int(window)))
        else:
            layers.append(Layer("full", kv[index], (k_dim + v_dim) // 2))
    weight_bytes = sum(int(tensor.n_bytes) for tensor in tensors)
    params = sum(int(tensor.n_elements) for tensor in tensors)
    file_type = meta.get("general.file_type")
    experts = meta.get(f"{arch}.expert_count")
    used = meta.get(f"{arch}.expert_used_count")
    facts = ModelFacts(
        name=str(meta.get("general.name") or path.stem),
        architecture=arch,
        layers=layers,
        hidden_size=hidden,
        vocab_size=meta.get(f"{arch}.vocab_size") or meta.get("tokenizer.ggml.tokens"),
        native_context=meta.get(f"{arch}.context_length"),
        total_params=float(params),
        active_params=None if experts else float(params),
        experts=experts,
        experts_per_token=used,
        dtype=_FILE_TYPE_DTYPE.get(file_type) if isinstance(file_type, int) else None,
        quantization=_file_type_name(file_type),
        weight_bits=weight_bytes * 8 / params if params else None,
        weight_bytes=weight_bytes,
        source=f"GGUF {path.name}",
    )
    facts.sources = {
        "layers": "GGUF metadata",
        "native_context": f"GGUF {arch}.context_length",
        "weight_bytes": "GGUF tensor sizes",
        "total_params": "GGUF tensor elements",
    }
    if experts:
        facts.unconfirmed.append("active_params")
    return facts


def _file_type_name(file_type: Any) -> str | None:
    if not isinstance(file_type, int):
        return None
    try:
        from gguf import LlamaFileType

        return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
    except ValueError:
        return None

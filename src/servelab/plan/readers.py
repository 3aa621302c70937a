"""Where model facts are read from: a local folder or file, or the hub's config.json."""

from __future__ import annotations

from pathlib import Path

import httpx

from servelab.errors import BadInput
from servelab.plan.facts import ModelFacts, load_json
from servelab.plan.gguf_meta import facts_from_gguf
from servelab.plan.hf_config import facts_from_config, safetensors_totals
from servelab.recipe import ModelRef


def read_local(path: Path) -> ModelFacts:
    """A .gguf file, a config.json, or a Hugging Face model folder."""
    if path.is_file():
        if path.suffix == ".gguf":
            return facts_from_gguf(path)
        if path.suffix == ".json":
            return facts_from_config(load_json(path), str(path), path.parent.name)
        raise BadInput(f"{path}: expected a .gguf file, a config.json or a model folder")
    config = path / "config.json"
    if config.is_file():
        return read_hf_folder(path)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return facts_from_gguf(ggufs[0])
    raise BadInput(
        f"{path}: no config.json here (expected a Hugging Face model folder, or set model.file "
        "to a .gguf file)"
    )


def read_hf_folder(folder: Path) -> ModelFacts:
    """config.json plus exact weight bytes (and parameters) from the safetensors headers."""
    config = folder / "config.json"
    facts = facts_from_config(load_json(config), str(config), folder.name)
    totals = safetensors_totals(folder)
    if totals is not None:
        weight_bytes, params = totals
        facts.weight_bytes = weight_bytes
        facts.sources["weight_bytes"] = "safetensors tensor sizes"
        if params is not None:
            facts.total_params = float(params)
            facts.sources["total_params"] = "safetensors tensor elements"
            facts.unconfirmed = [key for key in facts.unconfirmed if key != "total_params"]
            if facts.experts is None:
                facts.active_params = float(params)
                facts.sources["active_params"] = "safetensors tensor elements (dense)"
                facts.unconfirmed = [key for key in facts.unconfirmed if key != "active_params"]
            facts.weight_bits = weight_bytes * 8 / params if params else None
    return facts


def _hub_config(ref: ModelRef) -> dict:
    """config.json from the local hub cache, else one quick request (no retries)."""
    from huggingface_hub import constants, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    try:
        cached = hf_hub_download(
            ref.id, "config.json", revision=ref.revision, local_files_only=True
        )
        return load_json(Path(cached))
    except BadInput:
        raise
    except Exception:  # not in the cache
        if constants.HF_HUB_OFFLINE:
            raise RuntimeError("offline mode (HF_HUB_OFFLINE) and not in the local cache") from None
    url = hf_hub_url(ref.id, "config.json", revision=ref.revision)
    response = httpx.get(url, headers=build_hf_headers(), timeout=5.0, follow_redirects=True)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")
    data = response.json()
    if not isinstance(data, dict):
        raise RuntimeError("config.json is not a JSON object")
    return data


def read_hub(ref: ModelRef) -> ModelFacts:
    """config.json through huggingface_hub; offline or unreachable → one-line BadInput."""
    try:
        config = _hub_config(ref)
    except BadInput:
        raise
    except Exception as exc:  # offline, unknown or gated repo, no network, not JSON
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise BadInput(
            f"model {ref.id}: no local copy, no bundled facts, and its config.json could not be "
            f"fetched from the hub ({reason}); put the model under SERVELAB_MODELS or give a path"
        ) from None
    facts = facts_from_config(config, f"{ref.id}/config.json", ref.id)
    facts.source = f"hub {ref.id} config.json"
    return facts

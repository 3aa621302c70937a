"""The stand-in generator: configs that transformers / gguf / llama-server load back, with the
intended architecture (layer pattern, head dims per layer type, experts, MTP/DFlash wiring)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servelab.recipe import load_recipe
from tests.support import REPO, models_root

sys.path.insert(0, str(REPO / "benchmarks" / "standins"))

import gemma4  # noqa: E402
import make_standins  # noqa: E402
import qwen_mtp_gguf  # noqa: E402
from common import folder_mib  # noqa: E402
from gemma_tokenizer import token_ids  # noqa: E402

transformers = pytest.importorskip("transformers", reason="pip install -e .[standins]")
torch = pytest.importorskip("torch", reason="pip install -e .[standins]")

SLIDING_KV, FULL_KV = (8, 256), (2, 512)  # (KV heads, head dim) of the real 26B-A4B


@pytest.fixture(scope="module")
def standins(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("standins")
    return make_standins.make(list(make_standins.STANDINS), out, models_root())


def test_every_standin_is_small_enough_to_travel(standins):
    assert set(standins) == set(make_standins.STANDINS)
    for name, path in standins.items():
        assert 0.1 < folder_mib(path) < 20, name


def test_generation_is_deterministic(standins, tmp_path):
    again = make_standins.make(["gemma4-dflash", "qwen3.6-35b-a3b-mtp"], tmp_path, models_root())
    for name, path in again.items():
        first = standins[name]
        a = first / "model.safetensors" if first.is_dir() else first
        b = path / "model.safetensors" if path.is_dir() else path
        assert a.read_bytes() == b.read_bytes(), name


def test_gemma4_target_loads_with_the_real_layer_pattern(standins):
    folder = standins["gemma4-target"]
    config = transformers.AutoConfig.from_pretrained(folder)
    assert type(config).__name__ == "Gemma4Config"
    text = config.text_config
    assert text.layer_types == ["sliding_attention"] * 5 + ["full_attention"]
    assert (text.sliding_window, text.enable_moe_block, text.num_experts) == (1024, True, 8)
    model = transformers.Gemma4ForConditionalGeneration.from_pretrained(folder)
    for layer, kind in zip(model.model.language_model.layers, text.layer_types, strict=True):
        attn = layer.self_attn
        kv_heads, head_dim = SLIDING_KV if kind == "sliding_attention" else FULL_KV
        assert attn.head_dim == head_dim
        assert attn.k_proj.out_features == kv_heads * head_dim
        assert (attn.v_proj is None) == (kind == "full_attention")  # K = V on full layers
        assert layer.experts.gate_up_proj.shape[0] == 8
    assert model.model.vision_tower is not None


def test_gemma4_target_takes_an_image_and_the_chat_template(standins):
    """The multimodal plumbing on the CPU: tokenizer, image processor, template, forward."""
    from PIL import Image
    from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil

    folder = standins["gemma4-target"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    config = transformers.AutoConfig.from_pretrained(folder)
    ids = token_ids()
    assert tokenizer.image_token_id == config.image_token_id == ids["<|image|>"]
    assert tokenizer.convert_tokens_to_ids("<|tool_call>") == ids["<|tool_call>"]
    stories = transformers.AutoTokenizer.from_pretrained(models_root() / "stories260k" / "hf")
    text = "Once upon a time there was a little girl."
    assert tokenizer(text).input_ids == stories(text).input_ids

    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Colour?"}]}
    ]
    prompt = tokenizer.apply_chat_template(
        messages, tools=[tool], add_generation_prompt=True, tokenize=False
    )
    assert "<|tool>declaration:get_weather" in prompt and prompt.endswith("<|turn>model\n")
    assert prompt.count("<|image|>") == 1

    processor_config = json.loads((folder / "processor_config.json").read_text())
    image_config = dict(processor_config["image_processor"])
    image_config.pop("image_processor_type"), image_config.pop("image_seq_length")
    images = Gemma4ImageProcessorPil(**image_config)(
        Image.new("RGB", (64, 64), (255, 0, 0)), return_tensors="pt"
    )
    soft = int(images["num_soft_tokens_per_image"][0])
    assert 0 < soft <= processor_config["image_seq_length"]
    expanded = prompt.replace("<|image|>", "<|image>" + "<|image|>" * soft + "<image|>")
    input_ids = tokenizer(expanded, return_tensors="pt", add_special_tokens=False).input_ids
    model = transformers.Gemma4ForConditionalGeneration.from_pretrained(folder)
    with torch.no_grad():
        out = model(
            input_ids=input_ids,
            pixel_values=images["pixel_values"],
            image_position_ids=images["image_position_ids"],
        )
    assert out.logits.shape == (1, input_ids.shape[1], config.text_config.vocab_size)
    assert torch.isfinite(out.logits).all()


def test_gemma4_assistant_matches_the_target(standins):
    folder = standins["gemma4-assistant"]
    config = transformers.AutoConfig.from_pretrained(folder)
    target = json.loads((standins["gemma4-target"] / "config.json").read_text())
    assert config.model_type == "gemma4_assistant"  # vLLM rewrites it to gemma4_mtp
    assert config.backbone_hidden_size == target["text_config"]["hidden_size"]
    text = config.text_config
    assert text.num_kv_shared_layers == text.num_hidden_layers == 4
    assert text.vocab_size == target["text_config"]["vocab_size"]
    assert text.layer_types[-1] == "full_attention" and "sliding_attention" in text.layer_types
    model = transformers.Gemma4AssistantForCausalLM.from_pretrained(folder)
    names = set(model.state_dict())
    assert {"pre_projection.weight", "post_projection.weight"} <= names
    assert model.pre_projection.in_features == 2 * config.backbone_hidden_size
    assert not any(".k_proj." in n or ".v_proj." in n for n in names)  # K/V come from the target
    full = text.layer_types.index("full_attention")
    assert model.model.layers[full].self_attn.head_dim == FULL_KV[1]
    assert model.model.layers[0].self_attn.head_dim == SLIDING_KV[1]


def test_gemma4_dflash_has_what_vllms_dflash_loader_reads(standins):
    from safetensors import safe_open

    folder = standins["gemma4-dflash"]
    raw = json.loads((folder / "config.json").read_text())
    assert raw["architectures"] == ["DFlashDraftModel"]
    target_layers = len(gemma4.TARGET_LAYER_TYPES)
    assert all(0 <= i < target_layers for i in raw["dflash_config"]["target_layer_ids"])
    assert raw["dflash_config"]["mask_token_id"] == token_ids()["<mask>"]
    config = transformers.AutoConfig.from_pretrained(folder)
    assert config.model_type == "qwen3" and config.hidden_size == raw["target_hidden_size"]
    with safe_open(str(folder / "model.safetensors"), "np") as weights:
        names = set(weights.keys())
        taps = len(raw["dflash_config"]["target_layer_ids"])
        assert weights.get_slice("fc.weight").get_shape() == [
            raw["hidden_size"],
            raw["target_hidden_size"] * taps,
        ]
    assert not any("embed_tokens" in n or "lm_head" in n for n in names)
    assert {f"layers.{i}.self_attn.q_proj.weight" for i in range(2)} <= names


def test_qwen_mtp_gguf_metadata(standins):
    meta = qwen_mtp_gguf.read_metadata(standins["qwen3.6-35b-a3b-mtp"])
    arch = meta["general.architecture"]
    assert arch == "qwen35moe"
    assert meta[f"{arch}.block_count"] == 5 and meta[f"{arch}.nextn_predict_layers"] == 1
    assert meta[f"{arch}.full_attention_interval"] == 4
    assert meta[f"{arch}.expert_count"] == 8 and meta["tokenizer.ggml.tokens"] == 512
    tensors = meta["tensors"]
    assert "blk.0.ssm_conv1d.weight" in tensors and "blk.0.attn_q.weight" not in tensors
    assert "blk.3.attn_q.weight" in tensors  # the full-attention layer of the trunk
    assert tensors["blk.4.nextn.eh_proj.weight"] == (64, 128)


@pytest.mark.llama
@pytest.mark.engine
def test_llama_server_speculates_with_the_mtp_block(standins, tmp_path):
    from servelab.engines import get_engine

    binary = get_engine("llamacpp").find_binary()
    port = 18000 + int(time.time()) % 1000
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(binary),
            "-m",
            str(standins["qwen3.6-35b-a3b-mtp"]),
            "--spec-type",
            "draft-mtp",
            "--spec-draft-n-max",
            "2",
            "-c",
            "1024",
            "-t",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        reply = httpx.post(
            base + "/completion",
            json={"prompt": "Once upon a time", "n_predict": 24, "temperature": 0},
            timeout=60,
        ).json()
        assert reply["tokens_predicted"] == 24
        metrics = httpx.get(base + "/metrics", timeout=5).text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "creating MTP draft context" in (tmp_path / "server.log").read_text()
    drafts = [
        line
        for line in metrics.splitlines()
        if line.startswith("llamacpp:spec_decode_num_drafts_total")
    ]
    assert drafts and float(drafts[0].split()[-1]) > 0


def test_nemotron_h_layer_pattern(standins):
    folder = standins["nemotron-h"]
    config = transformers.AutoConfig.from_pretrained(folder)
    assert config.hybrid_override_pattern == "MEM*E"
    model, info = transformers.NemotronHForCausalLM.from_pretrained(
        folder, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    kinds = [type(layer.mixer).__name__ for layer in model.model.layers]
    assert kinds[0] == kinds[2] and kinds[1] == kinds[4] and len(set(kinds)) == 3
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as weights:
        names = set(weights.keys())
    # the checkpoint layout of the published Nemotron-H models (backbone.*, per-expert tensors)
    assert "backbone.layers.1.mixer.experts.7.up_proj.weight" in names
    # vLLM's loader maps backbone.embeddings (not transformers' own "embedding") to its table
    assert "backbone.embeddings.weight" in names and "backbone.embedding.weight" not in names
    assert (
        "backbone.layers.0.mixer.A_log" in names
        and "backbone.layers.3.mixer.q_proj.weight" in names
    )


@pytest.mark.parametrize(
    "standin",
    [
        "standin-gemma4-26b-a4b-vision-mtp",
        "standin-gemma4-26b-a4b-nospec",
        "standin-gemma4-26b-a4b-dflash",
        "standin-qwen3.6-35b-a3b-mtp",
        "standin-qwen3.6-27b-dflash",
        "standin-nemotron-elastic-30b-a3b-nvfp4",
    ],
)
def test_standin_recipes_keep_the_post_flags_and_point_at_the_standins(standin, standins):
    recipe = load_recipe(standin)
    post = load_recipe(standin.removeprefix("standin-"))
    assert recipe.engine.name == post.engine.name
    assert recipe.features == post.features or recipe.features.tools == post.features.tools
    assert recipe.extra_args == post.extra_args
    assert recipe.context.kv_cache_dtype == post.context.kv_cache_dtype
    assert recipe.limits.limit_mm_per_prompt == post.limits.limit_mm_per_prompt
    assert (recipe.speculative is None) == (post.speculative is None)
    if recipe.speculative is not None:
        assert recipe.speculative.method == post.speculative.method
    refs = [recipe.model] + (
        [recipe.speculative.model] if recipe.speculative and recipe.speculative.model else []
    )
    for ref in refs:
        assert ref.id.startswith("standins/")
        folder = ref.id.removeprefix("standins/")
        assert folder in standins, f"{ref.id} is not written by the generator"
    if recipe.engine.name == "vllm":
        assert recipe.engine.version == "0.22.0"
        assert recipe.env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"

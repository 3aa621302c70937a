"""Gemma 4 tokenizer and processor files built on the stories260k vocabulary.

The 512 trained stories260k pieces keep their ids; Gemma 4's control tokens (turns, image and
audio markers, tool-call delimiters) are appended as special tokens, so the engine's Gemma 4
processor and tool parser find every token they look up by text.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import write_json

# Gemma 4's control tokens, in the order they are appended after the 512 stories pieces.
SPECIAL_TOKENS = [
    "<pad>",
    "<mask>",
    "<|turn>",
    "<turn|>",
    "<|image>",
    "<|image|>",
    "<image|>",
    "<|video|>",
    "<|audio>",
    "<|audio|>",
    "<audio|>",
    "<|tool>",
    "<tool|>",
    "<|tool_call>",
    "<tool_call|>",
    "<|tool_response>",
    "<tool_response|>",
    '<|"|>',
    "<|channel>",
    "<channel|>",
]
VOCAB_SIZE = 544  # 512 pieces + the specials above, padded to a multiple of 32

# A compact Gemma-4-style chat template: turns, image placeholders, tool declarations and
# tool calls in Gemma 4's call:name{key:<|"|>value<|"|>} form. Not Google's template.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if tools %}{{ '<|turn>system\\n' }}"
    "{%- for tool in tools %}<|tool>declaration:{{ tool['function']['name'] }}"
    "{{ tool['function'] | tojson }}<tool|>{%- endfor %}{{ '<turn|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "<|turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}{{ '\\n' }}"
    "{%- if message['content'] is string %}{{ message['content'] }}"
    "{%- elif message['content'] %}{%- for part in message['content'] %}"
    "{%- if part['type'] in ('image', 'image_url') %}<|image|>"
    "{%- elif part['type'] == 'text' %}{{ part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{%- for call in message.get('tool_calls') or [] %}<|tool_call>call:"
    "{{ call['function']['name'] }}{{ '{' }}"
    "{%- set args = call['function']['arguments'] %}"
    "{%- if args is mapping %}{%- for key, value in args.items() %}"
    "{{ key }}:<|\"|>{{ value }}<|\"|>{{ ',' if not loop.last }}{%- endfor %}{%- endif %}"
    "{{ '}' }}<tool_call|>{%- endfor %}{{ '<turn|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|turn>model\\n' }}{%- endif %}"
)

IMAGE_SEQ_LENGTH = 280  # soft tokens per image (Gemma 4's processor default)


def token_ids() -> dict[str, int]:
    """Id of every appended special token."""
    return {token: 512 + index for index, token in enumerate(SPECIAL_TOKENS)}


def write_tokenizer(stories_hf: Path, dst: Path) -> dict[str, int]:
    """tokenizer.json + tokenizer_config.json + chat template; returns the special ids."""
    from tokenizers import AddedToken, Tokenizer

    tokenizer = Tokenizer.from_file(str(stories_hf / "tokenizer.json"))
    if tokenizer.get_vocab_size() != 512:
        raise SystemExit(f"{stories_hf}/tokenizer.json: expected the 512-piece stories vocabulary")
    tokenizer.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS]
    )
    tokenizer.save(str(dst / "tokenizer.json"))
    write_json(
        dst / "tokenizer_config.json",
        {
            "tokenizer_class": "LlamaTokenizer",  # the stories260k SPM pipeline as is
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "extra_special_tokens": {
                "image_token": "<|image|>",
                "boi_token": "<|image>",
                "eoi_token": "<image|>",
                "audio_token": "<|audio|>",
                "boa_token": "<|audio>",
                "eoa_token": "<audio|>",
            },
            "add_bos_token": True,
            "add_eos_token": False,
            "model_max_length": 131072,
            "clean_up_tokenization_spaces": False,
        },
    )
    (dst / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return token_ids()


def write_processor(dst: Path) -> None:
    """processor_config.json in Gemma 4's layout (image, audio and video processors)."""
    image = {
        "image_processor_type": "Gemma4ImageProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": False,
        "image_mean": [0.0, 0.0, 0.0],
        "image_std": [1.0, 1.0, 1.0],
        "resample": 3,
        "rescale_factor": 1 / 255,
        "patch_size": 16,
        "pooling_kernel_size": 3,
        "max_soft_tokens": IMAGE_SEQ_LENGTH,
        "image_seq_length": IMAGE_SEQ_LENGTH,
    }
    video = {
        **{k: v for k, v in image.items() if k not in ("image_processor_type", "image_seq_length")},
        "video_processor_type": "Gemma4VideoProcessor",
        "max_soft_tokens": 70,
    }
    audio = {
        "feature_extractor_type": "Gemma4AudioFeatureExtractor",
        "feature_size": 128,
        "sampling_rate": 16000,
        "padding_value": 0.0,
        "padding_side": "right",
        "return_attention_mask": True,
        "frame_length": 320,
        "hop_length": 160,
        "fft_length": 512,
        "min_frequency": 0.0,
        "max_frequency": 8000.0,
        "mel_floor": 0.001,
    }
    write_json(
        dst / "processor_config.json",
        {
            "processor_class": "Gemma4Processor",
            "image_processor": image,
            "video_processor": video,
            "feature_extractor": audio,
            "image_seq_length": IMAGE_SEQ_LENGTH,
            "audio_seq_length": 750,
            "audio_ms_per_token": 40,
        },
    )


def generation_config(eos_ids: list[int], pad_id: int) -> str:
    return json.dumps({"bos_token_id": 1, "eos_token_id": eos_ids, "pad_token_id": pad_id}) + "\n"

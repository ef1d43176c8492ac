"""Real model shapes for `npm run bench:dpo -- --shape NAME`: seeded random weights in the public config of each model,
and a word-level tokenizer with the model's full vocabulary (no hub here, so no real tokenizer).

The config values are those of the public config.json files on the Hugging Face hub (Qwen/Qwen2.5-0.5B,
meta-llama/Llama-3.2-1B, meta-llama/Meta-Llama-3-8B), written from memory of those files and transformers' docs: they
could not be downloaded here. Only the shape matters to the benchmark (the weights are random); the counts printed
by the benchmark (Qwen2.5-0.5B: 494M parameters) check them.
"""

import json
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

SHAPES = {
    "qwen2.5-0.5b": dict(
        arch="qwen2",
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=32768,
    ),
    "llama3.2-1b": dict(
        arch="llama",
        vocab_size=128256,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=64,
        tie_word_embeddings=True,
        rope_theta=500000.0,
        rope_scaling=dict(
            rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
            original_max_position_embeddings=8192,
        ),
        rms_norm_eps=1e-5,
        max_position_embeddings=131072,
    ),
    "llama3-8b": dict(
        arch="llama",
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        tie_word_embeddings=False,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
        max_position_embeddings=8192,
    ),
    # Not a real model: Qwen2.5's vocabulary on a tiny body, a fast end-to-end check of the harness (npm run
    # bench:dpo -- --shape qwen2-smoke --steps 2); its figures mean nothing.
    "qwen2-smoke": dict(
        arch="qwen2",
        vocab_size=151936,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=32768,
    ),
}

# The word-level tokenizer's special tokens (ids 0-3); every other id is the word "w<id>", so a text of n words from
# the vocabulary is exactly n tokens, its ids spread over the whole vocabulary.
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def shape_dims(name):
    """The figures the node side counts FLOPs from."""
    s = SHAPES[name]
    return {
        "name": name,
        "arch": s["arch"],
        "vocab": s["vocab_size"],
        "hidden": s["hidden_size"],
        "intermediate": s["intermediate_size"],
        "layers": s["num_hidden_layers"],
        "heads": s["num_attention_heads"],
        "kvHeads": s["num_key_value_heads"],
        "headDim": s.get("head_dim", s["hidden_size"] // s["num_attention_heads"]),
        "tied": s["tie_word_embeddings"],
    }


def save_shape_model(folder, name, **ids):
    """Creates (seed 0) the random float32 model of shape `name`, saves it to `folder`; returns its parameter count."""
    spec = dict(SHAPES[name])
    arch = spec.pop("arch")
    rope_scaling = spec.pop("rope_scaling", None)
    cfg = (Qwen2Config if arch == "qwen2" else LlamaConfig)(**spec, **ids)
    if rope_scaling is not None:  # transformers 5 keeps RoPE settings under rope_parameters, theta included
        cfg.rope_parameters = {**rope_scaling, "rope_theta": spec["rope_theta"]}
    torch.manual_seed(0)
    model = (Qwen2ForCausalLM if arch == "qwen2" else LlamaForCausalLM)(cfg).to(torch.float32)
    model.save_pretrained(folder)
    return sum(t.numel() for t in model.parameters())


def save_word_tokenizer(folder, vocab_size):
    """Writes a WordLevel tokenizer.json (+ tokenizer_config.json) covering ids 0..vocab_size-1 to `folder`."""
    folder = Path(folder)
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), vocab_size)})
    added = [
        dict(id=i, content=tok, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
        for i, tok in enumerate(SPECIALS)
    ]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "model_max_length": 1 << 20,
        "clean_up_tokenization_spaces": False,
    }))
    return {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3}

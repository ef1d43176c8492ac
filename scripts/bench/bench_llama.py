"""The model every benchmark runs: a seeded random ~20M-parameter Llama (vocab 32000, hidden 256, 4 layers,
4 heads / 2 kv heads, intermediate 1024, untied), saved in float32 so alignkit loads exactly the same weights.
2 x 32000 x 256 (untied embed + lm_head) = 16.4M, 4 layers x ~0.98M = 3.9M: ~20.3M in all."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def save_bench_llama(folder, seq_len, **config):
    """Creates (seed 0) and saves the model to `folder`; returns (model config, parameter count)."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=32000,
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=seq_len,
        tie_word_embeddings=False,
        **config,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(folder)
    return cfg, sum(t.numel() for t in model.parameters())

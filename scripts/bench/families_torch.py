"""PyTorch-eager side of `npm run bench:families` (driven by families.mjs).

--create: writes a seeded random ~20M-parameter model of --family (the bench_llama.py shape: vocab 32000, hidden 256,
4 layers, 4 heads / 2 kv heads of 64, intermediate 1024, untied, float32) to --out with the family's own switches
set as its checkpoints set them, plus the batch (input_ids.i32, raw little-endian int32), and prints its shape.
Otherwise: loads --out, times transformers' forward+backward (labels = ids, all-ones mask) and prints one JSON line.

Mixture-of-Experts (mixtral, qwen3_moe): 8 experts of intermediate 512, top-2, so that each token runs through as many
MLP weights as llama's dense intermediate 1024 (the same active parameters); qwen3_moe renormalises the top-k
(norm_topk_prob). transformers runs its default experts implementation (a loop over the experts hit, index_add_).

Attention: transformers' default (sdpa), except gemma2, whose sdpa path drops the attention soft-cap
(sdpa_attention_forward takes no softcap): there eager computes what alignkit computes.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

SHAPE = dict(vocab_size=32000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
             num_key_value_heads=2, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, pad_token_id=2)
ROPE = {"rope_type": "default", "rope_theta": 10000.0}
# Each family's switches at values its public checkpoints use (scaled to this size where they depend on it).
FAMILIES = {
    "llama": dict(model_type="llama", rope_parameters=ROPE),
    "granite": dict(model_type="granite", rope_parameters=ROPE, embedding_multiplier=12.0, residual_multiplier=0.22,
                    attention_multiplier=1 / 64, logits_scaling=8.0),
    "olmo2": dict(model_type="olmo2", rope_parameters=ROPE),
    "smollm3": dict(model_type="smollm3", rope_parameters=ROPE, no_rope_layer_interval=4),
    "gemma2": dict(model_type="gemma2", rope_parameters=ROPE, head_dim=64, query_pre_attn_scalar=64,
                   attn_logit_softcapping=50.0, final_logit_softcapping=30.0, sliding_window=256),
    "gemma3_text": dict(model_type="gemma3_text", head_dim=64, query_pre_attn_scalar=64, sliding_window=256,
                        layer_types=["sliding_attention"] * 3 + ["full_attention"]),
    "phi3": dict(model_type="phi3", rope_parameters=dict(ROPE, partial_rotary_factor=0.75)),
    "mixtral": dict(model_type="mixtral", rope_parameters=ROPE, intermediate_size=512, num_local_experts=8,
                    num_experts_per_tok=2),
    "qwen3_moe": dict(model_type="qwen3_moe", rope_parameters=ROPE, moe_intermediate_size=512, num_experts=8,
                      num_experts_per_tok=2, norm_topk_prob=True),
}
EAGER = {"gemma2"}

p = argparse.ArgumentParser()
p.add_argument("--family", required=True, choices=sorted(FAMILIES))
p.add_argument("--out", required=True, help="folder with (or, with --create, for) the model and input ids")
p.add_argument("--create", action="store_true")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=512)
args = p.parse_args()

transformers.utils.logging.disable_progress_bar()
torch.set_num_threads(args.threads)


def shape_of(model) -> dict:
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    # MoE: the routers (hidden x experts) run on every token, each token's top-k experts only (fused 3-D parameters).
    routers = sum(p.numel() for n, p in model.named_parameters() if n.endswith("mlp.gate.weight"))
    experts = sum(p.numel() for n, p in model.named_parameters() if ".experts." in n)
    k, e = getattr(cfg, "num_experts_per_tok", 0), getattr(cfg, "num_local_experts", 0)
    return {
        "params": sum(t.numel() for t in model.parameters()),
        # the weights a token multiplies by (projections, lm_head, routers, its top-k experts): the matmul FLOPs' N
        "matmulParams": linear + routers + (experts * k // e if e else 0),
        "layers": cfg.num_hidden_layers,
        "attnWidth": cfg.num_attention_heads * head_dim,
    }


if args.create:
    spec = dict(FAMILIES[args.family])
    model_type = spec.pop("model_type")
    torch.manual_seed(0)
    cfg = AutoConfig.for_model(model_type, **{**SHAPE, **spec}, max_position_embeddings=max(args.seq, 4096))
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.save_pretrained(args.out)
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, cfg.vocab_size, (args.batch, args.seq), generator=gen, dtype=torch.int64)
    ids.to(torch.int32).numpy().tofile(os.path.join(args.out, "input_ids.i32"))
    print(json.dumps({"family": args.family, "modelType": model_type, **shape_of(model)}))
    sys.exit(0)

attn = {"attn_implementation": "eager"} if args.family in EAGER else {}
model = AutoModelForCausalLM.from_pretrained(args.out, dtype=torch.float32, **attn)
raw = torch.from_file(os.path.join(args.out, "input_ids.i32"), size=args.batch * args.seq, dtype=torch.int32)
input_ids = raw.to(torch.int64).reshape(args.batch, args.seq)
mask = torch.ones_like(input_ids)
model.train()


def step():
    loss = model(input_ids, attention_mask=mask, labels=input_ids).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    return loss.item()


first_loss = step()
for _ in range(args.warmup - 1):
    step()
times = []
for _ in range(args.steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
print(json.dumps({
    "loss": first_loss,
    "stepSeconds": times,
    "attnImplementation": model.config._attn_implementation,
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    **shape_of(model),
}))

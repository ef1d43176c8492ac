"""transformers side of `npm run bench:generate` (driven by generate.mjs).

Creates and saves the seeded ~20M-parameter bench Llama and a batch of prompts of different lengths to --out,
then times greedy `model.generate()` on them (left padded, KV cache) and prints one JSON line on stdout with the
new tokens, so alignkit can check it produced the same ones.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import transformers
from transformers import LlamaForCausalLM

from bench_llama import save_bench_llama

p = argparse.ArgumentParser()
p.add_argument("--out", required=True, help="folder to save the model and prompts into")
p.add_argument("--threads", type=int, required=True)
p.add_argument("--runs", type=int, default=3)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--max-new-tokens", type=int, default=128)
p.add_argument("--device", default="cpu")
args = p.parse_args()

transformers.utils.logging.disable_progress_bar()
torch.set_num_threads(args.threads)
lengths = [16 + (112 * i) // max(1, args.batch - 1) for i in range(args.batch)]  # 16 .. 128 prompt tokens
config, n_params = save_bench_llama(args.out, max(lengths) + args.max_new_tokens)
model = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32).to(args.device).eval()

gen = torch.Generator().manual_seed(1234)
prompts = [torch.randint(3, config.vocab_size, (n,), generator=gen).tolist() for n in lengths]
with open(os.path.join(args.out, "prompts.json"), "w") as f:
    json.dump(prompts, f)
pad = 0
width = max(lengths)
ids = torch.full((args.batch, width), pad, dtype=torch.long)
mask = torch.zeros_like(ids)
for i, row in enumerate(prompts):
    ids[i, width - len(row):] = torch.tensor(row)
    mask[i, width - len(row):] = 1
ids, mask = ids.to(args.device), mask.to(args.device)


@torch.inference_mode()
def run():
    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=args.max_new_tokens,
                         pad_token_id=pad)
    return out[:, width:].cpu()  # waits for the device


new = run()  # warmup, and the tokens alignkit must reproduce
times = []
for _ in range(args.runs):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)

print(json.dumps({
    "params": n_params,
    "eos": config.eos_token_id,
    "newTokens": new.tolist(),
    "runSeconds": times,
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "attnImplementation": model.config._attn_implementation,
    "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "python": sys.version.split()[0],
}))

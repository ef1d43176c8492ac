"""PyTorch-eager side of `npm run bench:forward` (driven by forward.mjs).

Creates a seeded random ~20M-parameter LlamaForCausalLM, saves it (float32,
safetensors) plus the benchmark batch to --out, so alignkit loads exactly the
same weights and tokens, then times transformers' own fwd+bwd on it and prints
one JSON line on stdout.
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
p.add_argument("--out", required=True, help="folder to save the model and input ids into")
p.add_argument("--threads", type=int, required=True)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=512)
args = p.parse_args()

transformers.utils.logging.disable_progress_bar()  # keep stderr to our own lines
torch.set_num_threads(args.threads)
config, n_params = save_bench_llama(args.out, args.seq)
model = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32)

# The batch both sides run: seeded ids, written as raw little-endian int32 for node.
gen = torch.Generator().manual_seed(1234)
input_ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), generator=gen, dtype=torch.int64)
input_ids.to(torch.int32).numpy().tofile(os.path.join(args.out, "input_ids.i32"))
mask = torch.ones_like(input_ids)
labels = input_ids

model.train()  # dropout is 0 in Llama, so train mode only changes bookkeeping, as in a real fine-tune


def step():
    loss = model(input_ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    return loss.item()


first_loss = step()  # step 1 (also the first warmup): the loss alignkit must reproduce
for _ in range(args.warmup - 1):
    step()
times = []
cpu0 = time.process_time()  # CPU seconds, all threads: the work done, roughly independent of waiting
for _ in range(args.steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
cpu_per_step = (time.process_time() - cpu0) / args.steps

tokens = args.batch * args.seq
print(json.dumps({
    "modelDir": args.out,
    "params": n_params,
    "attnImplementation": model.config._attn_implementation,
    "loss": first_loss,
    "stepSeconds": times,
    "tokensPerSecond": tokens * len(times) / sum(times),
    "cpuSecondsPerStep": cpu_per_step,
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "python": sys.version.split()[0],
    "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
}))

"""The machine's matmul peak for `npm run bench:dpo -- --shape NAME`: torch.matmul of large square matrices, float32 and
bfloat16, at the benchmark's thread count (or on the GPU), best of a few repetitions. Prints one JSON line:
{"fp32": GFLOP/s, "bf16": GFLOP/s, "sizes": [...], ...}. A matmul of n x n by n x n is 2 n^3 FLOPs."""

import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
p.add_argument("--reps", type=int, default=5)
args = p.parse_args()
torch.set_num_threads(args.threads)
cuda = args.device == "cuda"
sizes = [4096, 8192] if cuda else [2048, 4096]
reps = args.reps * 10 if cuda else args.reps


def sync():
    if cuda:
        torch.cuda.synchronize()


def best_gflops(dtype, n):
    g = torch.Generator(device=args.device).manual_seed(0)
    a = torch.randn(n, n, generator=g, device=args.device).to(dtype)
    b = torch.randn(n, n, generator=g, device=args.device).to(dtype)
    torch.matmul(a, b)  # warmup: packing buffers, kernel choice
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


out = {"sizes": sizes, "threads": torch.get_num_threads(), "device": args.device,
       "tf32": bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None}
for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
    out[name] = max(best_gflops(dtype, n) for n in sizes)
print(json.dumps(out))

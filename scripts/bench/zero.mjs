#!/usr/bin/env node
// ZeRO's memory and cost: each rank's parameters between steps (Optimizer.parameterBytes: all of them, or with
// zero_stage 3 its shards), AdamW state (Optimizer.stateBytes) and gradients after the synced backward
// (Optimizer.gradientBytes: the .grad tensors plus DDP's flat buckets, or stage 3's shard gradients), the optimizer
// step (sharded update plus the owners' broadcasts) and the whole training step, for one process and for --ranks
// data-parallel ranks with zero_stage 0, 1, 2 and 3 (stage 3 recomputes every decoder layer in backward; the
// others run without checkpointing), on the bench Llama (bench_llama.py, ~20M params) with SFT steps on random tokens
// (each rank its own batch, gradients averaged through DataParallel.attach). CPU ranks talk over Gloo, --device cuda
// ranks over NCCL (one GPU each, so --ranks GPUs are needed). Step 1 is left out of the times (warmup). Prints
// figures only. Peak RSS includes loading the whole model, which every rank does before it keeps its shard.
//
//   npm run bench:zero -- [--ranks 2] [--steps 6] [--batch 4] [--seq 128] [--threads N] [--device cpu|cuda]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDist, freePort, referencePython, root } from './setup.mjs';

const { values: opts } = parseArgs({
  options: {
    ranks: { type: 'string', default: '2' },
    steps: { type: 'string', default: '6' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '128' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    worker: { type: 'string' }, // internal: this process is one rank, running the JSON plan given
  },
});

if (opts.worker) await worker(JSON.parse(opts.worker));
else await main();

async function main() {
  ensureDist();
  const ranks = Number(opts.ranks);
  const threads = Number(opts.threads ?? Math.max(1, Math.floor(cpus().length / ranks)));
  const out = mkdtempSync(join(tmpdir(), 'alignkit-bench-zero-'));
  try {
    const modelDir = join(out, 'model');
    execFileSync(
      referencePython(),
      [
        '-c',
        'import sys; from bench_llama import save_bench_llama; print(save_bench_llama(sys.argv[1], int(sys.argv[2]))[1])',
        modelDir,
        opts.seq,
      ],
      {
        cwd: join(root, 'scripts', 'bench'),
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1', TRANSFORMERS_VERBOSITY: 'error' },
      },
    );
    const plan = {
      modelDir,
      steps: Number(opts.steps),
      batch: Number(opts.batch),
      seq: Number(opts.seq),
      device: opts.device,
    };
    console.log(
      `bench:zero  bench Llama, ${plan.batch} x ${plan.seq} tokens per rank and step, ${plan.steps} steps, ` +
        `${threads} threads per rank, ${opts.device}`,
    );
    console.log(
      `ranks  zero_stage  parameters per rank (MiB)  AdamW state per rank (MiB)  gradients per rank (MiB)  weights+grads+state (MiB)  optimizer step (ms)  whole step (ms)  parameters at most per rank (MiB)  ${opts.device === 'cuda' ? 'peak CUDA alloc' : '      peak RSS'} per rank (MiB)`,
    );
    for (const [worldSize, zeroStage] of [
      [1, 0],
      [ranks, 0],
      [ranks, 1],
      [ranks, 2],
      [ranks, 3],
    ]) {
      const results = await run(worldSize, { ...plan, zeroStage }, threads);
      const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
      const most = (key) => Math.max(...results.map((r) => r[key]));
      console.log(
        `${String(worldSize).padStart(5)}  ${String(zeroStage).padStart(10)}  ` +
          `${results
            .map((r) => mib(r.parameterBytes))
            .join(' / ')
            .padStart(25)}  ${results
            .map((r) => mib(r.stateBytes))
            .join(' / ')
            .padStart(26)}  ${results
            .map((r) => mib(r.gradientBytes))
            .join(' / ')
            .padStart(24)}  ${results
            .map((r) => mib(r.parameterBytes + r.stateBytes + r.gradientBytes))
            .join(' / ')
            .padStart(25)}  ${most('optimizerMs').toFixed(1).padStart(19)}  ` +
          `${most('stepMs').toFixed(1).padStart(15)}  ${results
            .map((r) => mib(r.peakParameterBytes))
            .join(' / ')
            .padStart(33)}  ${results
            .map((r) => mib(r.peakBytes))
            .join(' / ')
            .padStart(23)}`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// Starts worldSize ranks of this script with torchrun's variables; each prints one JSON line of its figures.
async function run(worldSize, plan, threads) {
  const port = await freePort();
  return Promise.all(
    Array.from(
      { length: worldSize },
      (_, rank) =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', JSON.stringify(plan)], {
            env: {
              ...process.env,
              RANK: String(rank),
              LOCAL_RANK: String(rank),
              WORLD_SIZE: String(worldSize),
              LOCAL_WORLD_SIZE: String(worldSize),
              MASTER_ADDR: '127.0.0.1',
              MASTER_PORT: String(port),
              OMP_NUM_THREADS: String(threads),
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let stdout = '';
          child.stdout.on('data', (chunk) => (stdout += chunk));
          child.on('exit', (code) =>
            code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`bench:zero rank ${rank} exited ${code}`)),
          );
        }),
    ),
  );
}

async function worker(plan) {
  const { createOptimizer, cudaMemory, loadModel } = await import(join(root, 'dist', 'index.js'));
  const { DataParallel } = await import(join(root, 'dist', 'distributed', 'data-parallel.js'));
  const cuda = plan.device === 'cuda';
  const dp = await DataParallel.join({
    ddp_timeout: 600,
    ddp_bucket_cap_mb: null,
    ddp_backend: null,
    zero_stage: plan.zeroStage,
    use_cpu: !cuda,
  });
  const model = await loadModel(plan.modelDir, { device: cuda ? `cuda:${dp.env?.localRank ?? 0}` : 'cpu' });
  await dp.attach(model, { ddp_bucket_cap_mb: null });
  const optimizer = await createOptimizer(
    model,
    { learning_rate: 1e-4, weight_decay: 0.1 },
    { group: dp, zeroStage: plan.zeroStage },
  );
  // Random tokens, different on each rank (a small LCG seeded by the rank).
  const ids = new Int32Array(plan.batch * plan.seq);
  let x = 12345 + dp.rank;
  for (let i = 0; i < ids.length; i++) ids[i] = (x = (x * 1103515245 + 12345) % 2 ** 31) % 32000;
  const optimizerMs = [],
    stepMs = [];
  let gradientBytes = 0;
  for (let step = 0; step < plan.steps; step++) {
    const t0 = performance.now();
    await model.sftStep({ inputIds: ids, labels: ids, seqLen: plan.seq });
    await optimizer.clipGradNorm(1.0);
    gradientBytes = Math.max(gradientBytes, optimizer.gradientBytes());
    const t1 = performance.now();
    await optimizer.step();
    await model.zeroGrad();
    const t2 = performance.now();
    if (step > 0) {
      optimizerMs.push(t2 - t1);
      stepMs.push(t2 - t0);
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const peakBytes = cuda ? cudaMemory(dp.env?.localRank ?? 0).peakAllocated : process.resourceUsage().maxRSS * 1024;
  await dp.close();
  console.log(
    JSON.stringify({
      stateBytes: optimizer.stateBytes(),
      gradientBytes,
      parameterBytes: optimizer.parameterBytes(),
      peakParameterBytes: optimizer.parameterBytes(true),
      optimizerMs: mean(optimizerMs),
      stepMs: mean(stepMs),
      peakBytes,
    }),
  );
}

// The ZeRO tests' shared harness (test/distributed/zero.test.ts, zero3.test.ts): the fixture run's AdamW settings
// and learning rates, `ranks` (N processes of zero-worker.mjs on loopback Gloo), `oneProcessRows` (one process
// running every rank's rows unsharded) and the comparisons.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { learningRateSchedule, readSafetensors, type SafetensorsTensor } from '../../src/index.js';
import { fixturesDir, maxAbs, tempDir } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

export const run = (
  JSON.parse(readFileSync(join(fixturesDir, 'reference', 'optim.json'), 'utf8')) as {
    run: {
      learning_rate: number;
      adam_beta1: number;
      adam_beta2: number;
      adam_epsilon: number;
      weight_decay: number;
      max_grad_norm: number;
      lr_scheduler_type: 'linear';
      warmup_steps: number;
      num_training_steps: number;
    };
  }
).run;
export const lrAt = learningRateSchedule(run);
export const learningRates = [0, 1, 2].map((step) => lrAt(step));
export const seqLen = 12;
export const partition = (
  JSON.parse(readFileSync(join(fixturesDir, 'reference', 'zero-partition.json'), 'utf8')) as {
    llama: Record<string, { elements: number[] }>;
  }
).llama;
export const adamw = {
  adamBeta1: run.adam_beta1,
  adamBeta2: run.adam_beta2,
  adamEpsilon: run.adam_epsilon,
  weightDecay: run.weight_decay,
};

export interface Plan {
  modelDir: string;
  learningRates: number[];
  loadOptimizer?: string;
  saveOptimizerAfter?: number;
  /** Broadcast bucket size of the sharded optimizer (default 25 MiB: one bucket for the fixture model). */
  bucketCapMb?: number;
  /** Train with sftStep and, on the ranks, attach the model to the group (DDP's gradient averaging). */
  attach?: boolean;
  /** The ranks' ZeRO stage (default 1; 2 and 3 need attach). */
  zeroStage?: 0 | 1 | 2 | 3;
  /** Each rank its own row per micro-step, row (rank + micro-step) % 3 (needs attach); one process runs them all. */
  rowPerRank?: boolean;
  /** With rowPerRank: every rank row micro-step % 3 (the gradients are one process's). */
  sameRows?: boolean;
  /** One process running the rows of this many ranks (see oneProcessRows). */
  emulate?: number;
  /** Micro-steps per optimizer step (only the last one synced, as the Trainer accumulates). Default 1. */
  accumulate?: number;
}

export interface RankResult {
  stateBytes: number;
  gradNorms: number[];
  losses: number[];
  gradientBytes: number[];
  /** Parameter bytes held after each step (Optimizer.parameterBytes). */
  parameterBytes: number[];
}

/** `worldSize` ranks run `plan`; returns its output folder and each rank's { stateBytes, gradNorms }. */
export async function ranks(worldSize: number, plan: Plan) {
  const all = Array.from({ length: worldSize }, (_, rank) => rank);
  const out = tempDir('zero-ranks');
  const planFile = join(out, 'plan.json');
  writeFileSync(
    planFile,
    JSON.stringify({
      ...plan,
      out,
      adamw,
      seqLen,
      maxGradNorm: run.max_grad_norm,
      batchFile: join(fixturesDir, 'reference', 'llama.safetensors'),
    }),
  );
  const port = await freePort();
  const exits = all.map((rank) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'zero-worker.mjs'), planFile], {
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(worldSize),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: '1',
      },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise<void>((resolve, reject) =>
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`rank ${rank} exited ${code}: ${stderr}`)),
      ),
    );
  });
  await Promise.all(exits);
  return {
    out,
    ranks: all.map((rank) => JSON.parse(readFileSync(join(out, `rank-${rank}.json`), 'utf8')) as RankResult),
  };
}

/**
 * The steps of `worldSize` ranks with plan.rowPerRank in one process, unsharded (a subprocess with one thread, as
 * each rank has, so the matmuls sum in the same order): every micro-step runs each rank's row with its loss scaled
 * by 1 / worldSize, accumulating. Returns each rank's losses and the grad norms; writes model-0, model-mid and the
 * optimizer files as the ranks do.
 */
export async function oneProcessRows(plan: Plan, worldSize: number) {
  const {
    out,
    ranks: [result],
  } = await ranks(1, { ...plan, zeroStage: 0, attach: false, emulate: worldSize });
  return { out, losses: result!.losses as unknown as number[][], gradNorms: result!.gradNorms };
}

/** Each value within `relative` of the expected one. */
export function expectClose(got: number[], want: number[], relative: number, what: string) {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) =>
    expect(Math.abs(g - want[i]!), `${what}[${i}]: ${g} vs ${want[i]}`).toBeLessThanOrEqual(
      relative * Math.abs(want[i]!),
    ),
  );
}

export async function tensorsOf(path: string): Promise<Map<string, SafetensorsTensor>> {
  return (await readSafetensors(path)).tensors;
}

/** Same names, dtypes and shapes, and every value within `relative` of the largest |value| of its tensor. */
export async function expectSameTensors(gotPath: string, wantPath: string, relative: number) {
  const [got, want] = [await tensorsOf(gotPath), await tensorsOf(wantPath)];
  expect([...got.keys()].sort(), gotPath).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect([g.dtype, g.shape], `${gotPath}: ${name}`).toEqual([w.dtype, w.shape]);
    const [a, b] = [g.data as Float32Array, w.data as Float32Array];
    let diff = 0;
    for (let i = 0; i < b.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    expect(diff, `${gotPath}: ${name}: max abs diff ${diff}`).toBeLessThanOrEqual(
      relative * Math.max(maxAbs(b), Number.MIN_VALUE),
    );
  }
}

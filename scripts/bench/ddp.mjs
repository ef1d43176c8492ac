#!/usr/bin/env node
// Data-parallel scaling on this machine: the bench DPO workload (train.mjs's ~20M-param Llama, seq 512, fp32,
// precomputed reference log-probs, 4 pairs per optimizer step in all) trained by 1 process × T threads and by
// 2 processes × T/2 threads (Gloo on loopback, 2 pairs each, launched as `alignkit train --nproc_per_node 2`
// launches), on the same cores. Prints steps/s of both, the scaling efficiency (2-process steps/s over
// 1-process steps/s: 1.0 means data parallelism costs nothing over threads), the gradient all-reduces and the time
// rank 0 waited for them after each backward (what overlap did not hide), and checks that both runs logged the
// same losses. Prints figures only; never asserts on speed.
//
//   npm run bench:ddp -- [--steps K] [--rows R] [--threads T]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, freePort, referencePython, root } from './setup.mjs';

const SEQ = 512;
const PAIRS = 4;
const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '8' },
    rows: { type: 'string', default: '40' },
    threads: { type: 'string' },
  },
});
const steps = Number(opts.steps);
const rows = Number(opts.rows);
const threads = Number(opts.threads ?? cpus().length);
if (!(steps >= 2) || !(rows >= PAIRS) || !(threads >= 2) || threads % 2)
  throw new Error('--steps >= 2, --rows >= 4, --threads even >= 2');

ensureDist();
const { launch } = await import('../../dist/index.js');
const worker = join(root, 'scripts/bench/ddp-worker.mjs');
const loadBefore = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-ddp-'));
try {
  console.error('bench: writing the model and rows (train_trl.py --data-only)');
  const data = JSON.parse(
    execFileSync(
      referencePython(),
      [
        join(root, 'scripts/bench/train_trl.py'),
        '--trainer',
        'dpo',
        '--out',
        dir,
        '--threads',
        String(threads),
        '--rows',
        String(rows),
        '--batch',
        String(PAIRS),
        '--seq',
        String(SEQ),
        '--data-only',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
      .trim()
      .split('\n')
      .at(-1),
  );
  const configFor = (processes) => {
    const path = join(dir, `config-${processes}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        trainer: 'dpo',
        model_name_or_path: data.modelDir,
        train_dataset: data.dataPath,
        output_dir: join(dir, `out-${processes}`),
        per_device_train_batch_size: PAIRS / processes,
        max_length: SEQ,
        max_steps: steps,
        logging_steps: 1,
        learning_rate: 1e-6,
        seed: 42,
        save_strategy: 'no',
        bf16: false,
        gradient_checkpointing: false,
        precompute_ref_log_probs: true,
        use_cpu: true,
      }),
    );
    return path;
  };
  const report = (processes) => JSON.parse(readFileSync(join(dir, `report-${processes}.0.json`), 'utf8'));

  console.error(`bench: 1 process x ${threads} threads`);
  execFileSync(process.execPath, [worker, configFor(1), join(dir, 'report-1')], {
    stdio: 'inherit',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  console.error(`bench: 2 processes x ${threads / 2} threads`);
  process.env.OMP_NUM_THREADS = String(threads / 2); // the launcher passes it on to each worker
  const code = await launch({
    nprocPerNode: 2,
    nnodes: 1,
    nodeRank: 0,
    masterAddr: '127.0.0.1',
    masterPort: await freePort(),
    command: [process.execPath, worker, configFor(2), join(dir, 'report-2')],
    stdio: 'inherit',
  });
  if (code !== 0) throw new Error(`the 2-process job exited ${code}`);
  const [one, two] = [report(1), report(2)];

  const rate = (ends) => (ends.length - 1) / (ends.at(-1) - ends[0]);
  const maxRel = Math.max(...one.losses.map((l, i) => Math.abs(two.losses[i] - l) / Math.abs(l)));
  const fmt = (x, d = 3) => x.toFixed(d);
  console.log(
    `\nDPO data parallelism, Llama ${fmt(data.params / 1e6, 2)}M params, ${PAIRS} pairs x seq ${SEQ} per optimizer step ` +
      `(fp32, precomputed reference), ${steps} steps (step 1 excluded from steps/s), ${rows} rows`,
  );
  console.log(
    `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical); load average (1 min) before: ${loadBefore.toFixed(2)}`,
  );
  console.table({
    [`1 process x ${threads} threads`]: {
      'steps/s': fmt(rate(one.stepEnds), 4),
      's/step': fmt(1 / rate(one.stepEnds)),
    },
    [`2 processes x ${threads / 2} threads`]: {
      'steps/s': fmt(rate(two.stepEnds), 4),
      's/step': fmt(1 / rate(two.stepEnds)),
      'all-reduce wait s/step': fmt(two.stats.waitSeconds / two.stats.syncs, 4),
      'all-reduces/step': fmt(two.stats.allReduces / two.stats.syncs, 1),
    },
  });
  console.log(
    `gradient syncs on rank 0: ${two.stats.syncs} (one per optimizer step), ${two.stats.allReduces} bucket all-reduces, ` +
      `${fmt(two.stats.waitSeconds)} s waited after backward in all`,
  );
  console.log(`losses, max rel diff 2 processes vs 1: ${maxRel.toExponential(2)}`);
  console.log(
    `scaling efficiency (2-process steps/s / 1-process steps/s, same cores): ${fmt(rate(two.stepEnds) / rate(one.stepEnds))}`,
  );
  if (!(maxRel < 1e-4)) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

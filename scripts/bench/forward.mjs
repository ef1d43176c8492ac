#!/usr/bin/env node
// Forward+backward throughput: alignkit vs PyTorch eager (transformers) on the same
// ~20M-param Llama, same batch, same thread count, same machine, in one run.
//
//   npm run bench:forward -- [--threads N] [--steps K] [--warmup W]
//
// The python side (forward_torch.py) runs first and alone, so the two never share
// cores; it also creates and saves the model and the token batch alignkit then loads.
// Prints figures only; it never asserts on speed. Exits non-zero only when the
// step-1 losses disagree (i.e. the two sides are not computing the same thing).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, referencePython, root } from './setup.mjs';

const BATCH = 4;
const SEQ = 512;
const LOSS_RTOL = 1e-4;

const { values: opts } = parseArgs({
  options: {
    threads: { type: 'string' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
  },
});
const threads = Number(opts.threads ?? cpus().length);
const steps = Number(opts.steps);
const warmup = Math.max(1, Number(opts.warmup)); // step 1 is a warmup and the loss check
for (const [k, v] of Object.entries({ threads, steps })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}

ensureDist();
const { loadModel, setNumThreads, info } = await import('../../dist/index.js');

const python = referencePython();

const loadBefore = loadavg()[0]; // other work on the machine skews both sides unevenly
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-'));
try {
  // --- PyTorch eager (child process; it writes the model + ids into dir) ---
  console.error(`bench: pytorch side (${python}), threads=${threads} warmup=${warmup} steps=${steps}`);
  const pyOut = execFileSync(
    python,
    [
      join(root, 'scripts/bench/forward_torch.py'),
      '--out',
      dir,
      '--threads',
      String(threads),
      '--steps',
      String(steps),
      '--warmup',
      String(warmup),
      '--batch',
      String(BATCH),
      '--seq',
      String(SEQ),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  const torchRes = JSON.parse(pyOut.trim().split('\n').at(-1));

  // --- alignkit (this process) ---
  console.error('bench: alignkit side');
  setNumThreads(threads);
  const raw = readFileSync(join(dir, 'input_ids.i32'));
  const inputIds = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
  const mask = new Uint8Array(inputIds.length).fill(1); // all ones, as on the python side
  const model = await loadModel(dir, { dtype: 'float32' });

  const step = async () => {
    const loss = await model.forwardBackward(inputIds, mask, { seqLen: SEQ });
    await model.zeroGrad();
    return loss;
  };
  const firstLoss = await step();
  for (let i = 1; i < warmup; i++) await step();
  const stepSeconds = [];
  const cpu0 = process.cpuUsage(); // CPU time of all threads, as python's process_time()
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    stepSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const cpu = process.cpuUsage(cpu0);
  const akCpuPerStep = (cpu.user + cpu.system) / 1e6 / steps;
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b),
      m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  // Headline tokens/s uses the median step: one step slowed by another process on a
  // 2-core box would otherwise swing the ratio widely. The mean is shown beside it.
  const tps = (xs) => ({ median: (BATCH * SEQ) / median(xs), mean: (BATCH * SEQ * xs.length) / sum(xs) });
  const ak = tps(stepSeconds);
  const pt = tps(torchRes.stepSeconds);
  const rt = info();

  // --- report ---
  const relDiff = Math.abs(firstLoss - torchRes.loss) / Math.abs(torchRes.loss);
  const fmt = (x, d = 1) => x.toFixed(d);
  console.log(
    `\nforward+backward, Llama ${fmt(torchRes.params / 1e6, 2)}M params (vocab 32000, untied), ` +
      `batch ${BATCH} x seq ${SEQ}, float32, ${warmup} warmup + ${steps} timed steps`,
  );
  console.log(
    `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical), threads: alignkit ${rt.threads}, pytorch ${torchRes.threads}`,
  );
  console.log(
    `load average (1 min) before the run: ${loadBefore.toFixed(2)}; ` +
      `timings are only comparable on an otherwise idle machine`,
  );
  console.log(
    `versions: alignkit libtorch ${rt.torchVersion}; python ${torchRes.python}, torch ${torchRes.torch}, ` +
      `transformers ${torchRes.transformers} (attn: ${torchRes.attnImplementation})`,
  );
  console.table({
    alignkit: {
      'tokens/s': fmt(ak.median),
      'mean tokens/s': fmt(ak.mean),
      'median step s': fmt(median(stepSeconds), 3),
      'CPU s/step': fmt(akCpuPerStep, 3),
      'step-1 loss': firstLoss.toFixed(6),
      'peak RSS MiB': fmt(process.resourceUsage().maxRSS / 1024, 0),
    },
    pytorch: {
      'tokens/s': fmt(pt.median),
      'mean tokens/s': fmt(pt.mean),
      'median step s': fmt(median(torchRes.stepSeconds), 3),
      'CPU s/step': fmt(torchRes.cpuSecondsPerStep, 3),
      'step-1 loss': torchRes.loss.toFixed(6),
      'peak RSS MiB': fmt(torchRes.maxRssMiB, 0),
    },
  });
  // Per-step times, so a noisy neighbour (one slow step) is visible next to the mean.
  const list = (xs) => xs.map((x) => x.toFixed(3)).join(' ');
  console.log(`step s  alignkit: ${list(stepSeconds)}\nstep s  pytorch:  ${list(torchRes.stepSeconds)}`);
  console.log(
    `ratio alignkit/pytorch: ${(ak.median / pt.median).toFixed(3)}  ` +
      `(by mean: ${(ak.mean / pt.mean).toFixed(3)}; >= 1.0: no binding overhead)`,
  );
  console.log(`loss rel diff: ${relDiff.toExponential(2)} (limit ${LOSS_RTOL})`);
  if (!(relDiff < LOSS_RTOL)) {
    console.error(
      `\n!!! LOSS MISMATCH: alignkit ${firstLoss} vs pytorch ${torchRes.loss} ` +
        `(rel diff ${relDiff.toExponential(2)} >= ${LOSS_RTOL}); the throughput comparison is not like for like !!!`,
    );
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

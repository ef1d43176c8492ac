#!/usr/bin/env node
// Greedy generation throughput: alignkit vs transformers' generate() (KV cache, left-padded batch) on the same
// ~20M-param Llama, the same prompts (16..128 tokens), same thread count, same machine, in one run.
//
//   npm run bench:generate -- [--threads N] [--runs K] [--batch B] [--max-new-tokens T] [--device cuda]
//
// The python side (generate_torch.py) runs first and alone; it saves the model and prompts alignkit then loads.
// Prints figures only; it never asserts on speed. Exits non-zero only when the new tokens differ (the two sides
// are then not computing the same thing).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, referencePython, root } from './setup.mjs';

const { values: opts } = parseArgs({
  options: {
    threads: { type: 'string' },
    runs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '8' },
    'max-new-tokens': { type: 'string', default: '128' },
    device: { type: 'string', default: 'cpu' },
  },
});
const threads = Number(opts.threads ?? cpus().length);
const [runs, batch, maxNew] = [Number(opts.runs), Number(opts.batch), Number(opts['max-new-tokens'])];
for (const [k, v] of Object.entries({ threads, runs, batch, 'max-new-tokens': maxNew })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}

ensureDist();
const { loadModel, setNumThreads, info } = await import('../../dist/index.js');

const loadBefore = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-'));
try {
  console.error(`bench: transformers side, threads=${threads} runs=${runs} batch=${batch} max_new_tokens=${maxNew}`);
  const pyOut = execFileSync(
    referencePython(),
    [
      join(root, 'scripts/bench/generate_torch.py'),
      '--out',
      dir,
      '--threads',
      String(threads),
      '--runs',
      String(runs),
      '--batch',
      String(batch),
      '--max-new-tokens',
      String(maxNew),
      '--device',
      opts.device,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  );
  const torchRes = JSON.parse(pyOut.trim().split('\n').at(-1));

  console.error('bench: alignkit side');
  setNumThreads(threads);
  const prompts = JSON.parse(readFileSync(join(dir, 'prompts.json'), 'utf8'));
  const model = await loadModel(dir, { dtype: 'float32', device: opts.device });
  const run = () => model.generateTokenIds(prompts, { max_new_tokens: maxNew });
  const first = await run(); // warmup, and the tokens compared
  const runSeconds = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await run();
    runSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }

  // transformers pads rows that finished; ours end at their EOS
  const expected = torchRes.newTokens.map((row) => {
    const end = row.indexOf(torchRes.eos);
    return end === -1 ? row : row.slice(0, end + 1);
  });
  const mismatched = first.filter((r, i) => JSON.stringify(r.tokenIds) !== JSON.stringify(expected[i])).length;
  const steps = Math.max(...torchRes.newTokens.map((row) => row.length));
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b),
      m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const fmt = (x, d = 1) => x.toFixed(d);
  const rt = info();
  console.log(
    `\ngreedy generation, Llama ${fmt(torchRes.params / 1e6, 2)}M params (vocab 32000), batch ${batch} ` +
      `left-padded prompts of 16..128 tokens, ${steps} steps, float32 on ${opts.device}, 1 warmup + ${runs} timed runs`,
  );
  console.log(
    `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical), threads: alignkit ${rt.threads}, ` +
      `pytorch ${torchRes.threads}; load average before: ${loadBefore.toFixed(2)}`,
  );
  console.log(
    `versions: alignkit libtorch ${rt.torchVersion}; python ${torchRes.python}, torch ${torchRes.torch}, ` +
      `transformers ${torchRes.transformers} (attn: ${torchRes.attnImplementation})`,
  );
  const row = (seconds, rss) => ({
    'new tokens/s': fmt((batch * steps) / median(seconds)),
    'median run s': fmt(median(seconds), 3),
    'runs s': seconds.map((s) => s.toFixed(3)).join(' '),
    'peak RSS MiB': fmt(rss, 0),
  });
  console.table({
    alignkit: row(runSeconds, process.resourceUsage().maxRSS / 1024),
    transformers: row(torchRes.runSeconds, torchRes.maxRssMiB),
  });
  console.log(
    `ratio alignkit/transformers: ${(median(torchRes.runSeconds) / median(runSeconds)).toFixed(3)} (> 1: faster)`,
  );
  console.log(`rows with tokens equal to transformers': ${batch - mismatched} of ${batch}`);
  if (mismatched) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

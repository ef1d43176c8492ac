#!/usr/bin/env node
// Forward+backward throughput per model family: alignkit vs PyTorch eager (transformers) on the same ~20M-parameter
// model of each family (families_torch.py: the bench:forward shape, vocab 32000, hidden 256, 4 layers, untied, each
// family's own switches), same batch (4 x 512 random ids, all-ones mask, labels = ids), same thread count, one run.
//
//   npm run bench:families -- [--threads N] [--steps K] [--warmup W] [--rounds R] [--families a,b,...]
//
// Families the addon does not load (it answers "unsupported model_type" for the family's test fixture) are skipped
// and listed with the reason. For each family the two sides run R rounds one at a time, never sharing cores, in
// alternating order (PyTorch first in even rounds, alignkit first in odd ones); tokens/s is from the median timed
// step over all rounds. Each side's fraction of the machine's fp32 matmul peak (matmul_peak.py: torch.matmul of large
// square matrices at the same thread count, measured before and after, the higher used) counts model FLOPs/step =
// 3·T·(2·N + 4·L·S·A): T tokens, N the nn.Linear weights (lm_head included), L layers, S the sequence length,
// A = heads·head_dim, the attention over the full S×S square (as PaLM's MFU counts it, sliding windows included).
// PyTorch runs transformers' default attention (sdpa) except for gemma2, whose sdpa path drops the attention
// soft-cap: there it runs eager, which computes what alignkit computes. Prints figures only; exits non-zero when a
// family's step-1 losses disagree (the two sides would not be computing the same thing). The MoE families (8 experts,
// top-2, each expert half llama's intermediate) have llama's active parameters: their row also gives alignkit's step
// time over llama's ("vs dense"; llama is benched with them when --families leaves it out), N counting the routers
// and each token's top-k experts only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, referencePython, root } from './setup.mjs';

const BATCH = 4;
const SEQ = 512;
const LOSS_RTOL = 1e-4;
// The families families_torch.py builds, each with the test fixture the addon is asked about.
const ALL = ['llama', 'granite', 'olmo2', 'smollm3', 'gemma2', 'gemma3_text', 'phi3', 'mixtral', 'qwen3_moe'];
// The Mixture-of-Experts families, each against llama: a dense model of the same active parameters (families_torch.py).
const MOE = ['mixtral', 'qwen3_moe'];

const { values: opts } = parseArgs({
  options: {
    threads: { type: 'string' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    families: { type: 'string' },
  },
});
const threads = Number(opts.threads ?? cpus().length);
const steps = Number(opts.steps);
const warmup = Math.max(1, Number(opts.warmup)); // step 1 is a warmup and the loss check
const rounds = Number(opts.rounds);
for (const [k, v] of Object.entries({ threads, steps, rounds })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}
const wanted = opts.families ? opts.families.split(',').map((s) => s.trim()) : ALL;
for (const f of wanted) if (!ALL.includes(f)) throw new Error(`--families: unknown family ${f} (known: ${ALL})`);
if (wanted.some((f) => MOE.includes(f)) && !wanted.includes('llama')) wanted.unshift('llama');

ensureDist();
const { loadModel, setNumThreads, info } = await import('../../dist/index.js');
const python = referencePython();

const py = (args, what) => {
  const out = execFileSync(python, [join(root, 'scripts/bench', ...args.slice(0, 1)), ...args.slice(1)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  try {
    return JSON.parse(out.trim().split('\n').at(-1));
  } catch {
    throw new Error(`${what}: no JSON line on stdout`);
  }
};

// Ask the addon: a family it does not implement fails to load with "unsupported model_type".
const supported = [];
const skipped = [];
for (const family of wanted) {
  try {
    const probe = await loadModel(join(root, 'test/fixtures/models', family), { dtype: 'float32' });
    await probe.dispose();
    supported.push(family);
  } catch (e) {
    skipped.push(`${family}: ${/unsupported model_type/.test(e.message) ? 'unsupported model_type' : e.message}`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const tokens = BATCH * SEQ;
const common = ['--threads', String(threads), '--batch', String(BATCH), '--seq', String(SEQ)];

const loadBefore = loadavg()[0];
setNumThreads(threads);
const results = [];
let peakBefore, peakAfter;
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-families-'));
try {
  console.error(`bench: ${python}, threads=${threads} warmup=${warmup} steps=${steps} rounds=${rounds}`);
  console.error('bench: matmul peak (before)');
  peakBefore = py(['matmul_peak.py', '--threads', String(threads)], 'matmul_peak.py');
  for (const family of supported) {
    const out = join(dir, family);
    console.error(`bench: ${family}: writing the model`);
    const shape = py(['families_torch.py', '--family', family, '--out', out, '--create', ...common], 'create');
    const raw = readFileSync(join(out, 'input_ids.i32'));
    const inputIds = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
    const mask = new Uint8Array(inputIds.length).fill(1);
    const model = await loadModel(out, { dtype: 'float32' });
    const step = async () => {
      const loss = await model.forwardBackward(inputIds, mask, { seqLen: SEQ });
      await model.zeroGrad();
      return loss;
    };
    const alignkitRound = async () => {
      const loss = await step();
      for (let i = 1; i < warmup; i++) await step();
      const times = [];
      for (let i = 0; i < steps; i++) {
        const t0 = process.hrtime.bigint();
        await step();
        times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return { loss, stepSeconds: times };
    };
    const ak = { stepSeconds: [] };
    const pt = { stepSeconds: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['pytorch', 'alignkit'] : ['alignkit', 'pytorch'];
      for (const side of order) {
        console.error(`bench: ${family}: round ${r + 1}/${rounds}, ${side}`);
        if (side === 'alignkit') {
          const res = await alignkitRound();
          ak.loss = res.loss;
          ak.stepSeconds.push(...res.stepSeconds);
        } else {
          const res = py(
            [
              'families_torch.py',
              ...['--family', family, '--out', out, ...common, '--steps', String(steps), '--warmup', String(warmup)],
            ],
            `families_torch.py ${family}`,
          );
          Object.assign(pt, { ...res, stepSeconds: [...pt.stepSeconds, ...res.stepSeconds] });
        }
      }
    }
    await model.dispose();
    results.push({ family, shape, ak, pt });
  }
  console.error('bench: matmul peak (after)');
  peakAfter = py(['matmul_peak.py', '--threads', String(threads)], 'matmul_peak.py');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// --- report ---
const peak = Math.max(peakBefore.fp32, peakAfter.fp32);
const rt = info();
console.log(
  `\nforward+backward per family, ~20M params (vocab 32000, hidden 256, 4 layers, untied), batch ${BATCH} x seq ` +
    `${SEQ}, float32, ${warmup} warmup + ${steps} timed steps x ${rounds} rounds (alternating order)`,
);
console.log(
  `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical), threads ${threads}; alignkit libtorch ${rt.torchVersion}` +
    (results[0] ? `; torch ${results[0].pt.torch}, transformers ${results[0].pt.transformers}` : ''),
);
console.log(
  `load average (1 min) before the run: ${loadBefore.toFixed(2)}; timings are only comparable on an idle machine`,
);
console.log(
  `fp32 matmul peak (torch.matmul, square ${peakBefore.sizes.join('/')}): before ${peakBefore.fp32.toFixed(1)}, ` +
    `after ${peakAfter.fp32.toFixed(1)} GFLOP/s (the higher is used); model FLOPs/step = 3·T·(2·N + 4·L·S·A)`,
);
const table = {};
const dense = results.find((r) => r.family === 'llama');
for (const { family, shape, ak, pt } of results) {
  const flops = 3 * tokens * (2 * shape.matmulParams + 4 * shape.layers * SEQ * shape.attnWidth);
  const akTps = tokens / median(ak.stepSeconds);
  const ptTps = tokens / median(pt.stepSeconds);
  const relDiff = Math.abs(ak.loss - pt.loss) / Math.abs(pt.loss);
  table[family] = {
    'params M': (shape.params / 1e6).toFixed(2),
    'alignkit tok/s': akTps.toFixed(1),
    'pytorch tok/s': ptTps.toFixed(1),
    ratio: (akTps / ptTps).toFixed(3),
    'alignkit % fp32 peak': ((100 * (akTps / tokens) * flops) / 1e9 / peak).toFixed(1),
    'pytorch % fp32 peak': ((100 * (ptTps / tokens) * flops) / 1e9 / peak).toFixed(1),
    'torch attn': pt.attnImplementation,
    'vs dense': MOE.includes(family) && dense ? (median(ak.stepSeconds) / median(dense.ak.stepSeconds)).toFixed(3) : '',
    'loss rel diff': relDiff.toExponential(1),
  };
  if (!(relDiff < LOSS_RTOL)) {
    console.error(`!!! ${family}: step-1 loss alignkit ${ak.loss} vs pytorch ${pt.loss}: not like for like !!!`);
    process.exitCode = 1;
  }
}
if (results.length) console.table(table);
console.log('ratio = alignkit / pytorch tokens/s (median step; target >= 1.0)');
console.log("vs dense = a MoE family's alignkit step time / llama's (same active parameters; ideal ~1 + routing)");
if (skipped.length) console.log(`skipped: ${skipped.join('; ')}`);

// `npm run bench:dpo -- --shape qwen2.5-0.5b | llama3.2-1b | llama3-8b`: DPO at a real model's shape (random weights
// of the public config, real vocabulary; bench_shapes.py), alignkit against TRL 1.13 with identical settings on
// both sides, in three rows:
//   (a) TRL's defaults: bf16 autocast + gradient checkpointing;
//   (b) fp32, no gradient checkpointing;
//   (c) each side's best memory setting (--trl-best JSON, --alignkit JSON; printed).
// 2 pairs per step, every sequence exactly 480 tokens (a word-level tokenizer over the whole vocabulary: one word,
// one token), the reference model run every step on both sides (no precompute_ref_log_probs: like with like).
// Each run is its own process (TRL: train_trl.py --prepared; alignkit: train-alignkit.mjs), one at a time, the two
// sides interleaved (TRL first on odd repeats, alignkit first on even ones); --repeat N runs every row N times.
// Prints steps/s (step 1 excluded), peak memory (the process's peak RSS on the CPU, the CUDA allocator's peak with
// --device cuda), the alignkit/TRL ratios, and each side's fraction of the machine's matmul peak in fp32 and bf16,
// measured in the same run (matmul_peak.py: torch.matmul of large square matrices, same thread count) before the
// first and after the last run (the higher is used). Model FLOPs per step (formula printed): a forward of T tokens is
// T·(2·N + 4·L·S·A) — N the matmul parameters (attention and MLP projections, lm_head), L layers, S the sequence
// length, A = heads·head_dim (scores and the weighted sum, counted over the full S×S square as PaLM's MFU does); a
// step is the policy's forward + backward (3 forwards), the reference's forward, and with gradient checkpointing
// one more forward; the same count on both sides, whatever work a side skips.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist, referencePython, root } from './setup.mjs';

const SEQ = 480;
const PAIRS = 2;
const LN2 = Math.log(2);
const LOSS_RTOL = 1e-4;
const TARGET = { throughput: 1.5, memory: 0.5, fp32Peak: 0.85 }; // issue 19, the 0.5B shape on the CPU

/** The rows; `both` is applied to both sides, else each side's own settings. */
function rowsOf(trlBest, alignkitBest) {
  return {
    a: {
      label: "TRL's defaults: bf16 autocast + gradient checkpointing",
      both: { bf16: true, gradient_checkpointing: true },
    },
    b: { label: 'fp32, no gradient checkpointing', both: { bf16: false, gradient_checkpointing: false } },
    c: { label: "each side's best memory setting", trl: trlBest, alignkit: alignkitBest },
  };
}
// Row (c)'s defaults, the same keys on both sides: bf16 autocast + checkpointing (the lower peak of (a) and (b)) and
// precompute_ref_log_probs, which TRL offers too and with which neither side keeps a reference model while it
// trains (the reference's log-probs come from one pass of the starting policy before step 1; in TRL as in
// alignkit). --trl-best / --alignkit try others (alignkit's ref_model_dtype, activation_memory_budget, ...).
const BEST_DEFAULT = { bf16: true, gradient_checkpointing: true, precompute_ref_log_probs: true };

/** Model FLOPs of one step (see the header) for the shape's dimensions. */
export function stepFlops(dims, gradientCheckpointing) {
  const q = dims.heads * dims.headDim;
  const kv = dims.kvHeads * dims.headDim;
  const perLayer = dims.hidden * q + 2 * dims.hidden * kv + q * dims.hidden + 3 * dims.hidden * dims.intermediate;
  const n = dims.layers * perLayer + dims.vocab * dims.hidden;
  const tokens = PAIRS * 2 * SEQ;
  const forward = tokens * (2 * n + 4 * dims.layers * SEQ * q);
  return { matmulParams: n, tokens, forward, step: forward * (3 + 1 + (gradientCheckpointing ? 1 : 0)) };
}

export async function runRealShape(opts) {
  if (opts.trainer !== 'dpo') throw new Error('--shape runs DPO only (npm run bench:dpo -- --shape NAME)');
  const cuda = opts.device === 'cuda';
  if (!cuda && opts.device !== 'cpu') throw new Error(`--device must be cpu or cuda, got ${opts.device}`);
  const threads = Number(opts.threads ?? cpus().length);
  const steps = Number(opts.steps);
  const rows = Number(opts.rows);
  const repeat = Number(opts.repeat);
  for (const [k, v] of Object.entries({ threads, steps, rows, repeat })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
  }
  if (steps < 2) throw new Error('--steps must be at least 2 (step 1 is a warmup)');
  const trlBest = opts['trl-best'] ? JSON.parse(opts['trl-best']) : BEST_DEFAULT;
  const alignkitBest = opts.alignkit ? JSON.parse(opts.alignkit) : BEST_DEFAULT;
  const allRows = rowsOf(trlBest, alignkitBest);
  const picked = opts.only.split(',').map((s) => s.trim());
  for (const r of picked) if (!(r in allRows)) throw new Error(`--only takes a, b, c (comma-separated), got ${r}`);

  ensureDist(); // once: every run below trains with the same dist/
  const python = referencePython();
  const py = (args, what) => {
    const out = execFileSync(python, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 << 20,
      cwd: join(root, 'scripts/bench'),
    });
    try {
      return JSON.parse(out.trim().split('\n').at(-1));
    } catch {
      throw new Error(`${what}: no JSON line on stdout`);
    }
  };
  const peak = () => py(['matmul_peak.py', '--threads', String(threads), '--device', opts.device], 'matmul_peak.py');
  const common = [
    ...['--trainer', 'dpo', '--threads', String(threads), '--steps', String(steps), '--rows', String(rows)],
    ...['--batch', String(PAIRS), '--seq', String(SEQ), '--device', opts.device, '--shape', opts.shape],
    ...(opts.lora ? ['--lora'] : []),
  ];
  // The config both sides run (TRL gets the same values as keyword arguments in train_trl.py, plus report_to 'none',
  // dataloader_num_workers 0 and disable_tqdm, which alignkit has no keys for); a row adds bf16 and
  // gradient_checkpointing (and row (c) any other keys).
  const trainConfig = {
    use_cpu: !cuda,
    per_device_train_batch_size: PAIRS,
    max_length: SEQ,
    max_steps: steps,
    logging_steps: 1,
    learning_rate: 1e-6,
    seed: 42,
    save_strategy: 'no',
    ...(opts.lora
      ? { use_peft: true, lora_r: 16, lora_alpha: 32, lora_dropout: 0.05, lora_target_modules: ['all-linear'] }
      : {}),
  };

  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-shape-'));
  try {
    console.error(`bench: writing the ${opts.shape} model and ${rows} rows (${python})`);
    const prepared = py(['train_trl.py', ...common, '--out', dir, '--data-only'], 'train_trl.py --data-only');
    console.error('bench: matmul peak (before)');
    const peakBefore = peak();

    const runTrl = (settings) => {
      const { bf16 = false, gradient_checkpointing: gc = false, ...rest } = settings;
      const res = py(
        [
          'train_trl.py',
          ...common,
          '--out',
          dir,
          '--prepared',
          ...(bf16 ? ['--bf16'] : []),
          ...(gc ? ['--gradient-checkpointing'] : []),
          '--settings',
          JSON.stringify(rest),
        ],
        'train_trl.py',
      );
      return { ...res, memMiB: cuda ? res.cudaPeakMiB : res.maxRssMiB };
    };
    const runAlignkit = (settings, tag) => {
      const config = {
        trainer: 'dpo',
        model_name_or_path: prepared.modelDir,
        train_dataset: prepared.dataPath,
        output_dir: join(dir, `alignkit-${tag}`),
        ...trainConfig,
        ...settings,
      };
      const out = execFileSync(
        process.execPath,
        [join(root, 'scripts/bench/train-alignkit.mjs'), JSON.stringify({ config, threads, cuda })],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 },
      );
      const res = JSON.parse(out.trim().split('\n').at(-1));
      return { ...res, memMiB: cuda ? res.cudaPeakMiB : res.maxRssMiB };
    };

    const results = Object.fromEntries(picked.map((r) => [r, { alignkit: [], TRL: [] }]));
    let versions = null;
    for (let rep = 1; rep <= repeat; rep++) {
      for (const r of picked) {
        const row = allRows[r];
        const sides = [
          ['TRL', () => runTrl(row.both ?? row.trl)],
          ['alignkit', () => runAlignkit(row.both ?? row.alignkit, `${r}${rep}`)],
        ];
        if (rep % 2 === 0) sides.reverse(); // interleave: which side runs first alternates
        for (const [side, run] of sides) {
          console.error(`bench: row (${r}) repeat ${rep}/${repeat}: ${side} (load ${loadavg()[0].toFixed(2)})`);
          const res = run();
          if (res.stepEnds.length !== steps) throw new Error(`${side} logged ${res.stepEnds.length} of ${steps} steps`);
          res.load = loadavg()[0];
          results[r][side].push(res);
          if (side === 'TRL') versions ??= res;
        }
      }
    }
    console.error('bench: matmul peak (after)');
    const peakAfter = peak();
    report({ opts, prepared, allRows, picked, results, versions, peakBefore, peakAfter, loadBefore, trainConfig });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rate = (ends) => (ends.length - 1) / (ends.at(-1) - ends[0]);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function report({
  opts,
  prepared,
  allRows,
  picked,
  results,
  versions,
  peakBefore,
  peakAfter,
  loadBefore,
  trainConfig,
}) {
  const cuda = opts.device === 'cuda';
  const dims = prepared.dims;
  const peakFp32 = Math.max(peakBefore.fp32, peakAfter.fp32);
  const peakBf16 = Math.max(peakBefore.bf16, peakAfter.bf16);
  const memName = cuda ? 'GPU peak MiB' : 'peak RSS MiB';
  const f0 = stepFlops(dims, false);
  console.log(
    `\nDPO at the ${dims.name} shape: random ${dims.arch} model, ${(prepared.params / 1e6).toFixed(1)}M params ` +
      `(${dims.layers} layers, hidden ${dims.hidden}, ${dims.heads} heads / ${dims.kvHeads} kv, head_dim ${dims.headDim}, ` +
      `intermediate ${dims.intermediate}, vocab ${dims.vocab}, ${dims.tied ? 'tied' : 'untied'}), ${PAIRS} pairs/step ` +
      `x ${SEQ} tokens (every sequence), ${opts.steps} steps (step 1 excluded from steps/s), ${opts.repeat} repeat(s)` +
      (opts.lora ? ', LoRA r 16 on all-linear (the FLOP count below is full fine-tuning)' : ''),
  );
  console.log(
    `device: ${cuda ? `${versions?.device} (both sides on the GPU)` : `${cpus()[0]?.model ?? '?'} (${cpus().length} logical)`}, ` +
      `threads ${picked.length ? results[picked[0]].alignkit[0].threads : '?'} (alignkit) / ${versions?.threads} (TRL); ` +
      `load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}; after each run: ` +
      picked
        .map(
          (r) =>
            `(${r}) TRL ${results[r].TRL.map((x) => x.load.toFixed(1)).join('/')} alignkit ${results[r].alignkit.map((x) => x.load.toFixed(1)).join('/')}`,
        )
        .join(', '),
  );
  console.log(
    `versions: alignkit libtorch ${results[picked[0]].alignkit[0].torchVersion}; python ${versions.python}, torch ${versions.torch}, ` +
      `transformers ${versions.transformers} (attn: ${versions.attnImplementation}), trl ${versions.trl}`,
  );
  console.log(
    `config (both): ${JSON.stringify(trainConfig)}; TRL also report_to 'none', dataloader_num_workers 0, disable_tqdm; ` +
      'reference model run every step on both sides (no precompute_ref_log_probs)',
  );
  console.log(
    `matmul peak (torch.matmul, square ${peakBefore.sizes.join('/')}, ${peakBefore.threads} threads), before / after the runs: ` +
      `fp32 ${peakBefore.fp32.toFixed(1)} / ${peakAfter.fp32.toFixed(1)} GFLOP/s, bf16 ${peakBefore.bf16.toFixed(1)} / ` +
      `${peakAfter.bf16.toFixed(1)} GFLOP/s (the higher is used)`,
  );
  console.log(
    `model FLOPs/step = F·(3 + 1 + [1 with gradient checkpointing]), F = T·(2·N + 4·L·S·A): T ${f0.tokens} tokens, ` +
      `N ${(f0.matmulParams / 1e6).toFixed(1)}M matmul params (projections + lm_head), L ${dims.layers}, S ${SEQ}, ` +
      `A ${dims.heads * dims.headDim}: F = ${(f0.forward / 1e12).toFixed(3)} TFLOP`,
  );
  const table = {};
  const ratios = [];
  for (const r of picked) {
    const row = allRows[r];
    const settings = { alignkit: row.both ?? row.alignkit, TRL: row.both ?? row.trl };
    console.log(
      `row (${r}) ${row.label}: ` +
        (row.both
          ? `both ${JSON.stringify(row.both)}`
          : `TRL ${JSON.stringify(row.trl)}, alignkit ${JSON.stringify(row.alignkit)}`),
    );
    const agg = {};
    for (const side of ['alignkit', 'TRL']) {
      const runs = results[r][side];
      const sps = runs.map((x) => rate(x.stepEnds));
      const mem = runs.map((x) => x.memMiB);
      const flops = stepFlops(dims, Boolean(settings[side].gradient_checkpointing)).step;
      const s = median(sps);
      agg[side] = { sps: s, mem: median(mem) };
      table[`(${r}) ${side}`] = {
        'steps/s': s.toFixed(4),
        's/step': (1 / s).toFixed(2),
        'runs steps/s': sps.map((x) => x.toFixed(4)).join(' '),
        [memName]: median(mem).toFixed(0),
        'runs MiB': mem.map((x) => x.toFixed(0)).join(' '),
        'GFLOP/s': ((s * flops) / 1e9).toFixed(1),
        'of fp32 peak': `${((100 * s * flops) / 1e9 / peakFp32).toFixed(1)}%`,
        'of bf16 peak': `${((100 * s * flops) / 1e9 / peakBf16).toFixed(1)}%`,
        'step-1 loss': runs.map((x) => x.losses[0].toFixed(6)).join(' '),
      };
      for (const x of runs) {
        const d = x.stepEnds.slice(1).map((t, i) => t - x.stepEnds[i]);
        console.log(`  ${side} step s (2..${opts.steps}): ${d.map((t) => t.toFixed(2)).join(' ')}`);
      }
    }
    ratios.push(
      `(${r}) alignkit/TRL  steps/s ${(agg.alignkit.sps / agg.TRL.sps).toFixed(3)}  ${memName.replace(' MiB', '')} ` +
        `${(agg.alignkit.mem / agg.TRL.mem).toFixed(3)}`,
    );
  }
  console.table(table);
  console.log(ratios.join('\n'));
  console.log(
    `targets (issue 19, ${dims.name} on the CPU, medians): (a) steps/s >= ${TARGET.throughput}x and peak RSS <= ` +
      `${TARGET.memory}x TRL's; (b) alignkit >= ${TARGET.fp32Peak * 100}% of the fp32 matmul peak`,
  );
  const bad = picked.flatMap((r) =>
    ['alignkit', 'TRL'].flatMap((side) =>
      results[r][side]
        .filter((x) => !(Math.abs(x.losses[0] - LN2) / LN2 < LOSS_RTOL))
        .map((x) => `(${r}) ${side} ${x.losses[0]}`),
    ),
  );
  if (bad.length) {
    console.error(`\n!!! STEP-1 LOSS NOT ln 2: ${bad.join(', ')}; the two sides are not training the same thing !!!`);
    process.exitCode = 1;
  } else console.log(`step-1 loss ln 2 (${LN2.toFixed(6)}) within ${LOSS_RTOL} on every run`);
}

#!/usr/bin/env node
// Training throughput and peak memory: alignkit's train() vs TRL 1.13's DPOTrainer (--trainer dpo, 4 pairs per
// step), SFTTrainer (--trainer sft, 8 sequences per step) or KTOTrainer (--trainer kto, 8 unpaired rows per step,
// each also run with its batch neighbour's completion for the KL estimate) on the same ~20M-param Llama (vocab 32000), the same
// rows, seq 512, float32 (bf16 autocast with --bf16), same thread count, same machine, in one run. With --device
// cuda both sides train on the GPU and the memory figure is the CUDA allocator's peak
// (torch.cuda.max_memory_allocated) instead of host RSS.
//
//   npm run bench:dpo -- [--threads N] [--steps K] [--rows R] [--device cpu|cuda] [--bf16] [--lora] [--alignkit JSON]
//   npm run bench:dpo -- --shape qwen2.5-0.5b|llama3.2-1b|llama3-8b [--repeat N] [--only a,b,c] [--trl-best JSON]
//                        [--alignkit JSON] [--threads N] [--steps K] [--rows R] [--device cpu|cuda] [--lora]
//                        (real-shape.mjs: DPO at a real model's shape, three rows with identical settings on both
//                        sides; --shape toy, the default, is this file's 20M Llama)
//   npm run bench:sft -- (the same options)
//   npm run bench:kto -- (the same options)
//   npm run bench:lora   (= bench:dpo -- --lora: LoRA r 16, alpha 32 on all-linear, both sides; DPO's reference is
//                         then the policy with its adapters off, on both sides)
//
// The python side (train_trl.py) runs first and alone, so the two never share cores; it also creates and saves
// the model (with a fixture tokenizer) and the JSONL rows alignkit then trains on. Both sides run the same
// config; TRL with gradient_checkpointing off (its fastest CPU setting), alignkit with its best settings
// (alignkitSettings below): for DPO in fp32 precompute_ref_log_probs, which runs the reference over the data once
// before step 1 (outside steps/s, inside the whole-run time) as TRL's option of that name does; TRL here runs it
// every step. Step 1 is excluded from steps/s on both sides (warmup). Peak RSS is each process's own maxRSS: the
// python process (TRL, its models, datasets) and this node process (tokenization, the models, libtorch).
// Prints figures only; it never asserts on speed. Exits non-zero only when the step-1 losses show the two sides
// are not training the same thing: DPO's is ln 2 on both and KTO's 0.5 (policy equals reference), SFT's equal
// each other.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, referencePython, root } from './setup.mjs';

const SEQ = 512;
const LOSS_RTOL = 1e-4;
const LN2 = Math.log(2);
// The targets the issues set: DPO (issue 5) and SFT (issue 6).
// The targets the issues set: DPO (issue 5), SFT (issue 6), LoRA-DPO (issue 8).
const TARGETS = {
  dpo: { throughput: 1.5, memory: 0.35 },
  sft: { throughput: 1.3, memory: 0.5 },
  lora: { throughput: 1.5, memory: 0.35 },
};

const { values: opts } = parseArgs({
  options: {
    trainer: { type: 'string', default: 'dpo' },
    threads: { type: 'string' },
    steps: { type: 'string', default: '6' },
    rows: { type: 'string', default: '40' },
    device: { type: 'string', default: 'cpu' },
    bf16: { type: 'boolean', default: false },
    lora: { type: 'boolean', default: false },
    alignkit: { type: 'string' },
    shape: { type: 'string', default: 'toy' },
    repeat: { type: 'string', default: '1' },
    only: { type: 'string', default: 'a,b,c' },
    'trl-best': { type: 'string' },
  },
});
if (opts.shape !== 'toy') {
  if (opts.bf16) throw new Error('--shape runs its own precisions (rows a, b, c; --only picks): drop --bf16');
  const { runRealShape } = await import('./real-shape.mjs');
  await runRealShape(opts);
  process.exit(); // the toy benchmark below is not run (stdout to a pipe is synchronous on Linux: nothing is lost)
}
if (opts.repeat !== '1' || opts.only !== 'a,b,c' || opts['trl-best'])
  throw new Error('--repeat, --only and --trl-best go with --shape NAME (the toy benchmark runs once, one row)');
if (!['dpo', 'sft', 'kto'].includes(opts.trainer))
  throw new Error(`--trainer must be dpo, sft or kto, got ${opts.trainer}`);
const dpo = opts.trainer === 'dpo';
const kto = opts.trainer === 'kto';
// Step 1's loss when the policy equals the reference: DPO's −log σ(0), KTO's 1 − σ(0).
const STEP1_LOSS = dpo ? LN2 : kto ? 0.5 : undefined;
const BATCH = dpo ? 4 : 8; // 8 sequences of SEQ tokens per step either way (DPO: chosen + rejected of 4 pairs)
const cuda = opts.device === 'cuda';
if (!cuda && opts.device !== 'cpu') throw new Error(`--device must be cpu or cuda, got ${opts.device}`);
const threads = Number(opts.threads ?? cpus().length);
const steps = Number(opts.steps);
const rows = Number(opts.rows);
for (const [k, v] of Object.entries({ threads, steps, rows })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}
if (steps < 2) throw new Error('--steps must be at least 2 (step 1 is a warmup)');

ensureDist();
const { train, setNumThreads, info, cudaMemory } = await import('../../dist/index.js');
if (cuda && !info().cudaAvailable) throw new Error('--device cuda: this alignkit build sees no CUDA device');

const python = referencePython();

// The config both sides run (TRL gets the same values as keyword arguments in train_trl.py, plus report_to 'none',
// dataloader_num_workers 0 and disable_tqdm, which alignkit has no keys for: it reports nowhere, has no workers).
const trainConfig = {
  bf16: opts.bf16,
  use_cpu: !cuda,
  gradient_checkpointing: false,
  per_device_train_batch_size: BATCH,
  max_length: SEQ,
  max_steps: steps,
  logging_steps: 1,
  learning_rate: 1e-6,
  seed: 42,
  save_strategy: 'no',
  // train_trl.py's LORA, under ModelConfig's names.
  ...(opts.lora
    ? { use_peft: true, lora_r: 16, lora_alpha: 32, lora_dropout: 0.05, lora_target_modules: ['all-linear'] }
    : {}),
};
// What alignkit runs differently (--alignkit '{...}' to try others), its best measured settings. DPO (and KTO) in fp32
// precomputes the reference log-probs (the same numbers: the reference log-probs are the same ones); with bf16 TRL's
// precompute runs in fp32 while its per-step reference runs under autocast, so precomputing would change the run and
// is left out. Gradient checkpointing (TRL's own default) where it is cheap: on the GPU (kernel-launch bound), not on
// the CPU, where it costs steps/s and the peak RSS is low without it (docs/performance.md).
const alignkitSettings = opts.alignkit
  ? JSON.parse(opts.alignkit)
  : {
      ...((dpo || kto) && !opts.bf16 ? { precompute_ref_log_probs: true } : {}),
      ...(cuda ? { gradient_checkpointing: true } : {}),
    };

const loadBefore = loadavg()[0]; // other work on the machine skews both sides unevenly
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-dpo-'));
try {
  // --- TRL (child process; it writes the model, tokenizer and rows into dir) ---
  console.error(`bench: TRL side (${python}), threads=${threads} steps=${steps} rows=${rows}`);
  const pyOut = execFileSync(
    python,
    [
      join(root, 'scripts/bench/train_trl.py'),
      '--trainer',
      opts.trainer,
      '--out',
      dir,
      '--threads',
      String(threads),
      '--steps',
      String(steps),
      '--rows',
      String(rows),
      '--batch',
      String(BATCH),
      '--seq',
      String(SEQ),
      '--device',
      opts.device,
      ...(opts.bf16 ? ['--bf16'] : []),
      ...(opts.lora ? ['--lora'] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 },
  );
  const trlRes = JSON.parse(pyOut.trim().split('\n').at(-1));

  // --- alignkit (this process) ---
  console.error('bench: alignkit side');
  setNumThreads(threads);
  const stepEnds = [];
  const losses = [];
  const peaks = []; // running peak RSS (MiB) at the end of each step
  if (cuda) cudaMemory(0, { reset: true });
  const t0 = process.hrtime.bigint();
  const result = await train(
    {
      trainer: opts.trainer,
      model_name_or_path: trlRes.modelDir,
      train_dataset: trlRes.dataPath,
      output_dir: join(dir, 'alignkit'),
      ...trainConfig,
      ...alignkitSettings,
    },
    {
      onLog: (entry) => {
        if (!('loss' in entry)) return;
        stepEnds.push(Number(process.hrtime.bigint() - t0) / 1e9);
        losses.push(entry.loss);
        peaks.push(process.resourceUsage().maxRSS / 1024);
      },
      log: (message) => console.error(`alignkit: ${message}`),
    },
  );
  const akTotal = Number(process.hrtime.bigint() - t0) / 1e9; // includes tokenization, loads and the final save
  const akRssMiB = process.resourceUsage().maxRSS / 1024;
  const akCudaPeakMiB = cuda ? cudaMemory(0).peakAllocated / 2 ** 20 : null;
  if (result.globalStep !== steps || stepEnds.length !== steps)
    throw new Error(`alignkit ran ${result.globalStep} steps, logged ${stepEnds.length}`);
  if (trlRes.stepEnds.length !== steps) throw new Error(`TRL ran ${trlRes.stepEnds.length} steps`);

  // steps/s over steps 2..K: (K - 1) steps between the end of step 1 and the end of step K.
  const rate = (ends) => (ends.length - 1) / (ends.at(-1) - ends[0]);
  const diffs = (ends) => ends.slice(1).map((t, i) => t - ends[i]);
  const ak = rate(stepEnds);
  const trl = rate(trlRes.stepEnds);
  const rt = info();

  // --- report ---
  const fmt = (x, d = 1) => x.toFixed(d);
  const precision = opts.bf16 ? 'bf16 autocast' : 'fp32';
  console.log(
    `\n${opts.trainer.toUpperCase()} training, Llama ${fmt(trlRes.params / 1e6, 2)}M params (vocab 32000, untied), ` +
      `${BATCH} ${dpo ? 'pairs' : 'sequences'}/step ` +
      (opts.lora ? `with LoRA (${fmt(trlRes.trainableParams / 1e6, 2)}M trainable params on TRL's side), ` : '') +
      `x seq ${SEQ} (every sequence ${SEQ} tokens), ${precision}, ${rows} rows, ${steps} steps (step 1 excluded from steps/s)`,
  );
  console.log(
    `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical), threads: alignkit ${rt.threads}, TRL ${trlRes.threads}` +
      (cuda ? `; device: alignkit ${rt.device}, TRL ${trlRes.device}` : ''),
  );
  console.log(
    `load average (1 min) before the run: ${loadBefore.toFixed(2)}; ` +
      `timings are only comparable on an otherwise idle machine`,
  );
  console.log(
    `versions: alignkit libtorch ${rt.torchVersion}; python ${trlRes.python}, torch ${trlRes.torch}, ` +
      `transformers ${trlRes.transformers} (attn: ${trlRes.attnImplementation}), trl ${trlRes.trl}`,
  );
  console.log(
    `config (both; alignkit's own settings below): ${JSON.stringify(trainConfig)}; TRL also report_to 'none', dataloader_num_workers 0, disable_tqdm`,
  );
  console.log(
    `settings: TRL ${precision}, gradient_checkpointing false (its fastest setting)` +
      (dpo || kto ? ', reference loaded by TRL from the same folder, its log-probs computed every step' : '') +
      `; alignkit ${precision}, ${JSON.stringify(alignkitSettings)} ` +
      (alignkitSettings.precompute_ref_log_probs
        ? '(the precompute pass runs before step 1: in the whole-run time, not in steps/s)'
        : ''),
  );
  console.table({
    alignkit: {
      'steps/s': fmt(ak, 4),
      'tokens/s': fmt(ak * BATCH * (dpo ? 2 : 1) * SEQ, 0),
      's/step': fmt(1 / ak, 3),
      'step-1 s': fmt(stepEnds[0], 2),
      'step-1 loss': losses[0].toFixed(6),
      'peak RSS MiB': fmt(akRssMiB, 0),
      ...(cuda ? { 'GPU peak MiB': fmt(akCudaPeakMiB, 0) } : {}),
    },
    TRL: {
      'steps/s': fmt(trl, 4),
      'tokens/s': fmt(trl * BATCH * (dpo ? 2 : 1) * SEQ, 0),
      's/step': fmt(1 / trl, 3),
      'step-1 s': fmt(trlRes.stepEnds[0], 2),
      'step-1 loss': trlRes.losses[0].toFixed(6),
      'peak RSS MiB': fmt(trlRes.maxRssMiB, 0),
      ...(cuda ? { 'GPU peak MiB': fmt(trlRes.cudaPeakMiB, 0) } : {}),
    },
  });
  const list = (xs) => xs.map((x) => x.toFixed(3)).join(' ');
  console.log(
    `step s (2..${steps})  alignkit: ${list(diffs(stepEnds))}\nstep s (2..${steps})  TRL:      ${list(diffs(trlRes.stepEnds))}`,
  );
  const list6 = (xs) => xs.map((x) => x.toFixed(6)).join(' ');
  const maxRel = Math.max(...losses.map((l, i) => Math.abs(l - trlRes.losses[i]) / Math.abs(trlRes.losses[i])));
  console.log(`loss by step  alignkit: ${list6(losses)}\nloss by step  TRL:      ${list6(trlRes.losses)}`);
  console.log(
    `loss max rel diff over all steps: ${maxRel.toExponential(2)} (informational: both sides draw the Trainer's ` +
      'row order, so steps 2+ differ only by rounding)',
  );
  console.log(
    `whole run s (incl. loads, tokenization; alignkit also the final save): alignkit ${fmt(akTotal, 1)}, ` +
      `TRL ${fmt(trlRes.setupSeconds + trlRes.trainSeconds, 1)}`,
  );
  console.log(
    `running peak RSS MiB after step 1..${steps}  alignkit: ${peaks.map((x) => x.toFixed(0)).join(' ')}\n` +
      `running peak RSS MiB after step 1..${steps}  TRL:      ${trlRes.peakRssByStepMiB.map((x) => x.toFixed(0)).join(' ')}`,
  );
  console.log(
    `peak RSS is per process: node (alignkit: tokenizer, models, libtorch) vs python (TRL: models, ` +
      `torch, transformers, datasets)`,
  );
  // The memory that bounds a run: host RSS on the CPU, the CUDA allocator's peak (torch.cuda.max_memory_allocated) on a GPU.
  const memoryRatio = cuda ? akCudaPeakMiB / trlRes.cudaPeakMiB : akRssMiB / trlRes.maxRssMiB;
  const target = TARGETS[opts.lora ? 'lora' : opts.trainer];
  console.log(
    `ratio alignkit/TRL  throughput: ${(ak / trl).toFixed(3)}${target ? ` (target >= ${target.throughput})` : ''}  ` +
      `peak ${cuda ? 'GPU ' : ''}memory: ${memoryRatio.toFixed(3)}${target ? ` (target <= ${target.memory})` : ''}`,
  );

  // Step 1 shows whether both sides train the same thing: DPO's loss is exactly ln 2 on both and KTO's 0.5 (policy ==
  // reference, whatever the batch); SFT's is the same model on the same first batch (the Trainer's row order), so equal.
  const expected = STEP1_LOSS ?? trlRes.losses[0];
  const rel = (l) => (l - expected) / expected;
  const bad = [
    ['alignkit', losses[0]],
    ['TRL', trlRes.losses[0]],
  ].filter(([, l]) => !(Math.abs(rel(l)) < LOSS_RTOL));
  console.log(
    `step-1 loss vs ${dpo ? 'ln 2' : kto ? '0.5' : "TRL's"} (${expected.toFixed(6)}): alignkit ${rel(losses[0]).toExponential(2)}` +
      (STEP1_LOSS !== undefined ? `, TRL ${rel(trlRes.losses[0]).toExponential(2)}` : '') +
      ` (limit ${LOSS_RTOL})`,
  );
  if (bad.length) {
    console.error(
      `\n!!! STEP-1 LOSS OFF: ${bad.map(([n, l]) => `${n} ${l}`).join(', ')}; ` +
        'the throughput comparison is not like for like !!!',
    );
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

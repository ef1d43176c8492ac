#!/usr/bin/env node
// `alignkit estimate`'s accuracy: the estimate against the measured peak RSS of real DPO, KTO and SFT runs (a few
// steps each, in a fresh process: peak-run.mjs) on seeded random models of real shapes (make_shape.py), fp32 and
// bf16 autocast, with and without gradient checkpointing, precompute_ref_log_probs and LoRA.
//
//   node scripts/estimate/measure-peak.mjs [--shape small|medium|qwen2.5-0.5b] [--trainer dpo|kto|sft]
//       [--batch B] [--seq L] [--steps K] [--settings fp32,fp32-gc,...] [--write FILE.json] [--keep DIR]
//       [--model DIR --data FILE]
//   node scripts/estimate/measure-peak.mjs --rescore --write FILE.json
//
// Defaults per shape: small 4 pairs, medium 2, qwen2.5-0.5b 1 (KTO and SFT: twice as many rows, so every trainer
// runs the same sequences per forward); seq 512; 2 steps. --model/--data: an already made model and preference data
// (read only; SFT's prompt/completion rows are written beside the outputs). Prints one row per setting (estimate,
// measured, error) and with --write saves them as JSON (added to the rows of other settings the file holds) with the
// config each ran, so test/estimate/estimate.test.ts recomputes the estimate from the committed rows (test/fixtures/estimate/measured-*.json are this script's output).
// A run of a model of >= 100M parameters holds alignkit-bigmem.lock in the temp folder (flock) while it runs, so that
// two measuring processes on one machine never hold a large model each at once.
// Needs dist/ (npm run build:ts) and, without --model, the Python reference environment (.venv) for the model.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: opts } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' },
    trainer: { type: 'string', default: 'dpo' },
    batch: { type: 'string' },
    seq: { type: 'string', default: '512' },
    steps: { type: 'string', default: '2' },
    settings: { type: 'string', default: 'fp32,fp32-gc,bf16,bf16-gc' },
    write: { type: 'string' },
    keep: { type: 'string' }, // a folder for the model and data, kept (and reused) across runs
    model: { type: 'string' },
    data: { type: 'string' },
    rescore: { type: 'boolean', default: false }, // re-estimate the --write file's rows, running nothing
  },
});
const PAIRS = { small: 4, medium: 2, 'qwen2.5-0.5b': 1 };
if (!(opts.shape in PAIRS)) throw new Error(`--shape must be one of ${Object.keys(PAIRS).join(', ')}`);
if (!['dpo', 'kto', 'sft'].includes(opts.trainer)) throw new Error('--trainer must be dpo, kto or sft');
const batch = Number(opts.batch ?? PAIRS[opts.shape] * (opts.trainer === 'dpo' ? 1 : 2));
const seq = Number(opts.seq);
const steps = Number(opts.steps);
const LORA = { use_peft: true, lora_target_modules: ['all-linear'] };
const SETTINGS = {
  fp32: { bf16: false, gradient_checkpointing: false },
  'fp32-gc': { bf16: false, gradient_checkpointing: true },
  bf16: { bf16: true, gradient_checkpointing: false },
  'bf16-gc': { bf16: true, gradient_checkpointing: true },
  'fp32-gc-precompute': { bf16: false, gradient_checkpointing: true, precompute_ref_log_probs: true },
  'fp32-gc-lora': { bf16: false, gradient_checkpointing: true, ...LORA },
  'fp32-lora': { bf16: false, gradient_checkpointing: false, ...LORA },
  'bf16-gc-lora': { bf16: true, gradient_checkpointing: true, ...LORA },
  'fp32-lora-nodropout': { bf16: false, gradient_checkpointing: false, ...LORA, lora_dropout: 0 },
};

const { estimateConfig, planSettings } = await import('../../dist/estimate/estimate-config.js');
const { memoryPlan } = await import('../../dist/estimate/memory-plan.js');
const { resolveConfig } = await import('../../dist/config/load-config.js');

if (opts.rescore) {
  // The estimate of each row of the --write file again, from its model shape and config (after a change to the plan).
  const json = JSON.parse(readFileSync(opts.write, 'utf8'));
  for (const row of json.rows) {
    const config = resolveConfig({ ...row.config, model_name_or_path: root, output_dir: join(tmpdir(), 'rescore') });
    const estimatedMiB = memoryPlan(row.modelShape, planSettings(config, row.modelShape, 'cpu')).total / 2 ** 20;
    row.estimatedMiB = Math.round(estimatedMiB);
    row.error = Number((estimatedMiB / row.measuredMiB - 1).toFixed(3));
  }
  writeFileSync(opts.write, JSON.stringify(json, null, 2) + '\n');
  console.table(json.rows.map(({ modelShape, config, ...row }) => row));
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'alignkit-estimate-'));
const dir = opts.keep ?? work;
try {
  let modelDir = opts.model;
  let dataPath = opts.data;
  if (!modelDir) {
    modelDir = join(dir, 'model');
    dataPath = join(dir, 'train.jsonl');
    if (!existsSync(join(modelDir, 'config.json'))) {
      mkdirSync(dir, { recursive: true });
      execFileSync(
        join(root, '.venv', 'bin', 'python'),
        [
          join(root, 'scripts/estimate/make_shape.py'),
          ...['--shape', opts.shape, '--out', dir, '--rows', String(batch * steps), '--seq', String(seq)],
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
    }
  }
  if (!dataPath) throw new Error('--model needs --data (preference rows: prompt, chosen, rejected)');
  if (opts.trainer === 'sft') {
    // SFT trains on prompt + chosen completion; KTO reads the pairs itself (each pair: a desirable and an
    // undesirable row).
    const pairs = readFileSync(dataPath, 'utf8').trim().split('\n').map(JSON.parse);
    dataPath = join(work, 'sft.jsonl');
    writeFileSync(dataPath, pairs.map((p) => JSON.stringify({ prompt: p.prompt, completion: p.chosen })).join('\n'));
  }
  const rows = [];
  for (const name of opts.settings.split(',')) {
    if (!(name in SETTINGS)) throw new Error(`unknown setting ${name} (${Object.keys(SETTINGS).join(', ')})`);
    if (opts.trainer === 'sft' && name.includes('precompute')) throw new Error('SFT has no reference to precompute');
    const run = {
      trainer: opts.trainer,
      use_cpu: true,
      per_device_train_batch_size: batch,
      max_length: seq,
      max_steps: steps,
      save_strategy: 'no',
      logging_steps: 1,
      learning_rate: 1e-6,
      ...SETTINGS[name],
    };
    const config = {
      ...run,
      model_name_or_path: modelDir,
      train_dataset: dataPath,
      output_dir: join(work, `out-${name}`),
    };
    const estimate = await estimateConfig(resolveConfig(config), { device: 'cpu' });
    const big = estimate.plan.parameters >= 100e6;
    const load = loadavg()[0];
    const child = [join(root, 'scripts/estimate/peak-run.mjs'), JSON.stringify(config)];
    const result = spawnSync(
      big ? 'flock' : process.execPath,
      big ? [join(tmpdir(), 'alignkit-bigmem.lock'), process.execPath, ...child] : child,
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 },
    );
    // The result line counts once printed, whatever the exit (a crash while the process tears down is reported).
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    if (!last.startsWith('{'))
      throw new Error(`${name}: the run failed (${result.status ?? result.signal}):\n${result.stderr.slice(-2000)}`);
    if (result.status !== 0)
      console.error(`${name}: the run exited with ${result.status ?? result.signal} after printing its peak`);
    const measured = JSON.parse(last);
    const estimatedMiB = estimate.plan.total / 2 ** 20;
    const row = {
      shape: opts.shape,
      trainer: opts.trainer,
      setting: name,
      params: estimate.plan.parameters,
      batch,
      seq,
      steps: measured.steps,
      estimatedMiB: Math.round(estimatedMiB),
      measuredMiB: Math.round(measured.maxRssMiB),
      error: Number((estimatedMiB / measured.maxRssMiB - 1).toFixed(3)),
      loadAverage: Number(load.toFixed(2)),
      // What the estimate is computed from, so a test can recompute it without the model: the shape and the run's
      // config (paths left out).
      modelShape: estimate.shape,
      config: run,
    };
    rows.push(row);
    console.log(JSON.stringify({ ...row, modelShape: undefined, config: undefined }));
  }
  console.table(rows.map(({ modelShape, config, ...row }) => row));
  if (opts.write) {
    // Rows of other settings (or trainers, shapes) already in the file are kept: one file can gather several runs.
    const key = (r) => `${r.shape} ${r.trainer} ${r.setting}`;
    const earlier = existsSync(opts.write) ? JSON.parse(readFileSync(opts.write, 'utf8')).rows : [];
    const fresh = new Set(rows.map(key));
    const all = [...earlier.filter((r) => !fresh.has(key(r))), ...rows];
    writeFileSync(
      opts.write,
      JSON.stringify({ generator: 'scripts/estimate/measure-peak.mjs', rows: all }, null, 2) + '\n',
    );
  }
} finally {
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

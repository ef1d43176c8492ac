#!/usr/bin/env node
// `alignkit estimate`'s accuracy: the estimate against the measured peak RSS of real DPO runs (a few steps each, in a
// fresh process: peak-run.mjs) on seeded random models of real shapes (make_shape.py), fp32 and bf16 autocast,
// with and without gradient checkpointing.
//
//   node scripts/estimate/measure-peak.mjs [--shape small|medium|qwen2.5-0.5b] [--batch B] [--seq L] [--steps K]
//                                          [--settings fp32,fp32-gc,bf16,bf16-gc,fp32-gc-precompute,fp32-gc-lora] [--write FILE.json] [--keep DIR]
//
// Defaults per shape: small 4 pairs, medium 2, qwen2.5-0.5b 1; seq 512; 2 steps. Prints one row per setting
// (estimate, measured, error) and with --write saves them as JSON (test/fixtures/estimate/measured-small.json is
// this script's --shape small output; test/estimate/estimate.test.ts checks the estimate against it).
// Needs dist/ (npm run build:ts) and the Python reference environment (.venv) for the model.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: opts } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' },
    batch: { type: 'string' },
    seq: { type: 'string', default: '512' },
    steps: { type: 'string', default: '2' },
    settings: { type: 'string', default: 'fp32,fp32-gc,bf16,bf16-gc' },
    write: { type: 'string' },
    keep: { type: 'string' }, // a folder for the model and data, kept (and reused) across runs
  },
});
const BATCH = { small: 4, medium: 2, 'qwen2.5-0.5b': 1 };
if (!(opts.shape in BATCH)) throw new Error(`--shape must be one of ${Object.keys(BATCH).join(', ')}`);
const batch = Number(opts.batch ?? BATCH[opts.shape]);
const seq = Number(opts.seq);
const steps = Number(opts.steps);
const SETTINGS = {
  fp32: { bf16: false, gradient_checkpointing: false },
  'fp32-gc': { bf16: false, gradient_checkpointing: true },
  bf16: { bf16: true, gradient_checkpointing: false },
  'bf16-gc': { bf16: true, gradient_checkpointing: true },
  'fp32-gc-precompute': { bf16: false, gradient_checkpointing: true, precompute_ref_log_probs: true },
  'fp32-gc-lora': { bf16: false, gradient_checkpointing: true, use_peft: true, lora_target_modules: ['all-linear'] },
};

const { estimateConfig } = await import('../../dist/estimate/estimate-config.js');
const { resolveConfig } = await import('../../dist/config/load-config.js');
const dir = opts.keep ?? mkdtempSync(join(tmpdir(), 'alignkit-estimate-'));
try {
  if (!existsSync(join(dir, 'model', 'config.json'))) {
    const python = join(root, '.venv', 'bin', 'python');
    execFileSync(
      python,
      [
        join(root, 'scripts/estimate/make_shape.py'),
        '--shape',
        opts.shape,
        '--out',
        dir,
        '--rows',
        String(batch * steps),
        '--seq',
        String(seq),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  const rows = [];
  for (const name of opts.settings.split(',')) {
    if (!(name in SETTINGS)) throw new Error(`unknown setting ${name} (${Object.keys(SETTINGS).join(', ')})`);
    const config = {
      trainer: 'dpo',
      model_name_or_path: join(dir, 'model'),
      train_dataset: join(dir, 'train.jsonl'),
      output_dir: join(dir, `out-${name}`),
      use_cpu: true,
      per_device_train_batch_size: batch,
      max_length: seq,
      max_steps: steps,
      save_strategy: 'no',
      logging_steps: 1,
      learning_rate: 1e-6,
      ...SETTINGS[name],
    };
    const load = loadavg()[0];
    const out = execFileSync(process.execPath, [join(root, 'scripts/estimate/peak-run.mjs'), JSON.stringify(config)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const measured = JSON.parse(out.trim().split('\n').at(-1));
    const estimate = await estimateConfig(resolveConfig(config), { device: 'cpu' });
    const estimatedMiB = estimate.plan.total / 2 ** 20;
    const row = {
      shape: opts.shape,
      setting: name,
      params: estimate.plan.parameters,
      batch,
      seq,
      steps: measured.steps,
      estimatedMiB: Math.round(estimatedMiB),
      measuredMiB: Math.round(measured.maxRssMiB),
      error: Number((estimatedMiB / measured.maxRssMiB - 1).toFixed(3)),
      loadAverage: Number(load.toFixed(2)),
      // What the estimate was computed from, so a test can recompute it without the model.
      modelShape: estimate.shape,
      planSettings: estimate.settings,
    };
    rows.push(row);
    console.log(JSON.stringify({ ...row, modelShape: undefined, planSettings: undefined }));
  }
  console.table(rows.map(({ modelShape, planSettings, ...row }) => row));
  if (opts.write)
    writeFileSync(opts.write, JSON.stringify({ generator: 'scripts/estimate/measure-peak.mjs', rows }, null, 2) + '\n');
} finally {
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
}

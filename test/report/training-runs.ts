// Real output folders for the report tests: short DPO and SFT runs of train() on the llama fixture, evaluating
// every 2 steps, so metrics.jsonl holds what a run writes (training logs, eval_* entries, the summary).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train, type DpoConfig, type SftConfig } from '../../src/index.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const shared = {
  model_name_or_path: modelDir('llama'),
  bf16: false,
  gradient_checkpointing: false,
  save_strategy: 'no',
  use_cpu: true,
  max_steps: 6,
  logging_steps: 1,
  learning_rate: 1e-3,
  eval_strategy: 'steps',
  eval_steps: 2,
  per_device_train_batch_size: 4,
} satisfies Omit<DpoConfig, 'trainer'> & Omit<SftConfig, 'trainer'>;

/** DPO on TRL's recorded pairs; its output folder. */
export async function dpoRun(name: string): Promise<string> {
  const dir = tempDir(name);
  const data = join(fixturesDir, 'trl', 'dpo-train.jsonl');
  await train(
    { ...shared, trainer: 'dpo', train_dataset: data, eval_dataset: data, output_dir: join(dir, 'dpo'), beta: 0.2 },
    { log: () => {} },
  );
  return join(dir, 'dpo');
}

/** SFT on the prompt/completion rows of the SFT parity cases; its output folder. */
export async function sftRun(name: string): Promise<string> {
  const dir = tempDir(name);
  const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-train.json'), 'utf8')) as {
    cases: { name: string; rows: object[] }[];
  };
  const data = join(dir, 'rows.jsonl');
  writeFileSync(
    data,
    cases
      .find((c) => c.name === 'prompt_completion')!
      .rows.map((row) => JSON.stringify(row))
      .join('\n') + '\n',
  );
  await train(
    {
      ...shared,
      trainer: 'sft',
      train_dataset: data,
      eval_dataset: data,
      output_dir: join(dir, 'sft'),
      completion_only_loss: true,
    },
    { log: () => {} },
  );
  return join(dir, 'sft');
}

/** metrics.jsonl read line by line, the reference every chart is checked against. */
export function metricsLines(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/**
 * The points each chart should draw, from metrics.jsonl: training entries (no eval_* key, not the summary) give
 * <metric> at their step, evaluation entries give eval_<metric> as <metric>.
 */
export function expectedPoints(dir: string): Map<string, { step: number; value: number; split: 'train' | 'eval' }[]> {
  const points = new Map<string, { step: number; value: number; split: 'train' | 'eval' }[]>();
  for (const line of metricsLines(dir)) {
    if ('train_runtime' in line) continue;
    const isEval = Object.keys(line).some((k) => k.startsWith('eval_'));
    for (const [key, value] of Object.entries(line)) {
      const metric = isEval
        ? key.startsWith('eval_')
          ? key.slice(5)
          : undefined
        : key === 'step' || key === 'epoch'
          ? undefined
          : key;
      if (metric === undefined) continue;
      if (!points.has(metric)) points.set(metric, []);
      points.get(metric)!.push({ step: line.step!, value, split: isEval ? 'eval' : 'train' });
    }
  }
  return points;
}

// BCO data-parallel: 2 worker processes on loopback (Gloo, `alignkit train --nproc_per_node 2`) × batch 2 log the
// same values at every step as 1 process × batch 4 (relative 1e-4): each rank takes one half of every sequential
// batch, the running reward mean δ folds in every rank's rewards (get_global_statistics: a collective inside the
// native step), gradients are averaged and each side's metric sums are gathered. One process is itself TRL's parity
// (bco-train.test.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { TrainConfig } from '../../src/types/config-types.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

const logsOf = (dir: string): LogEntry[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogEntry);

// total_flos counts input tokens with their padding, and each rank pads its half of a batch to its own longest row;
// so does BCO's logits/ (the sum of every logit of a row, padding positions included), in TRL's DDP too.
const comparable = (entries: LogEntry[]) =>
  withoutTimings(entries).map(
    ({
      total_flos: _,
      'logits/chosen': _c,
      'logits/rejected': _r,
      'eval_logits/chosen': _ec,
      'eval_logits/rejected': _er,
      ...entry
    }) => entry,
  );

describe('BCO: 2 processes × batch 2 train as 1 process × batch 4', () => {
  it.each([
    ['bco', {}],
    ['precomputed reference, evaluation', { precompute_ref_log_probs: true, eval_strategy: 'steps', eval_steps: 2 }],
    ['LoRA', { use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0, learning_rate: 1e-2 }],
  ] as const)('%s', async (_, extra) => {
    const dir = tempDir('bco-ddp');
    const data = join(fixturesDir, 'trl', 'kto-train.jsonl');
    const config = (batch: number, name: string) => ({
      trainer: 'bco',
      model_name_or_path: modelDir('llama'),
      train_dataset: data,
      ...('eval_strategy' in extra ? { eval_dataset: data } : {}),
      output_dir: join(dir, name),
      per_device_train_batch_size: batch,
      per_device_eval_batch_size: batch,
      max_steps: 4,
      logging_steps: 1,
      learning_rate: 1e-3,
      bf16: false,
      gradient_checkpointing: false,
      save_strategy: 'no',
      use_cpu: true,
      seed: 42,
      ...extra,
    });
    const { logHistory } = await train(config(4, 'one') as TrainConfig, { log: () => {} });
    const two = config(2, 'two');
    const path = join(dir, 'config-2.json');
    writeFileSync(path, JSON.stringify(two));
    const port = String(await freePort());
    const job = spawnSync(process.execPath, [cli, 'train', path, '--nproc_per_node', '2', '--master_port', port], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(job.status, job.stderr).toBe(0);
    const [actual, expected] = [comparable(logsOf(two.output_dir)), comparable(logHistory)];
    expect(actual.length).toBe(expected.length);
    // δ's batch mean is a sum over ranks divided by the count there, torch.var_mean in one process (TRL's two
    // paths too): they round apart by a float32 ulp or so.
    actual.forEach((entry, i) => expectLogEntryClose(entry, expected[i]!, 1e-4, 1e-6));
  });
});

// ZeRO-3 through the CLI: `alignkit train --nproc_per_node 2` with zero_stage 3 (or its spelling fsdp: full_shard)
// logs at every step what 1 process × the whole batch logs (relative 1e-5; the loss, grad_norm and every TRL
// metric, evaluation's too), with gradient accumulation, weight decay and clipping; rank 0 writes the gathered
// Hugging Face folder; and a stage 3 checkpoint of 2 processes resumes on 1 process as the uninterrupted run goes on.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/index.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, maxAbs, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
type Config = Exclude<Parameters<typeof train>[0], string> & { output_dir: string };

function configFor(trainer: 'dpo' | 'sft', dir: string, batch: number, extra: Record<string, unknown>): Config {
  const rows =
    trainer === 'dpo'
      ? readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .slice(0, 16)
      : (
          JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-train.json'), 'utf8')) as {
            cases: { name: string; rows: object[] }[];
          }
        ).cases
          .find((c) => c.name === 'messages')!
          .rows.map((row) => JSON.stringify(row));
  const data = join(dir, `${trainer}.jsonl`);
  writeFileSync(data, rows.join('\n') + '\n');
  return {
    trainer,
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    per_device_train_batch_size: batch,
    per_device_eval_batch_size: batch,
    ...('eval_strategy' in extra ? { eval_dataset: data } : {}),
    max_steps: 4,
    logging_steps: 1,
    learning_rate: 1e-3,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    seed: 42,
    ...(trainer === 'sft' ? { chat_template_path: join(fixturesDir, 'trl', 'sft-train-chatml.jinja') } : {}),
    ...extra,
  } as unknown as Config;
}

async function alignkitTrain(config: Config, dir: string, nproc: number) {
  const path = join(dir, `config-${nproc}.json`);
  writeFileSync(path, JSON.stringify(config));
  const port = String(await freePort());
  const args = [cli, 'train', path, '--nproc_per_node', String(nproc), '--master_port', port];
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
}

const logsOf = (config: Config): LogEntry[] =>
  readFileSync(join(config.output_dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogEntry);

// total_flos counts input tokens with their padding, and each rank pads its half of a batch to its own longest row.
const comparable = (entries: LogEntry[]) => withoutTimings(entries).map(({ total_flos: _, ...entry }) => entry);

function expectSameLogs(actual: LogEntry[], expected: LogEntry[]) {
  expect(actual.length).toBe(expected.length);
  comparable(actual).forEach((entry, i) => expectLogEntryClose(entry, comparable(expected)[i]!, 1e-5, 1e-7));
}

describe('zero_stage 3: 2 processes × batch 4 train as 1 process × batch 8', () => {
  it.each([
    [
      'dpo, zero_stage 3, gradient accumulation, clipping',
      'dpo',
      { zero_stage: 3, gradient_accumulation_steps: 2, weight_decay: 0.1, max_grad_norm: 0.5 },
    ],
    ['sft, fsdp full_shard', 'sft', { fsdp: 'full_shard auto_wrap' }],
    // Evaluation runs the policy without autograd: each layer gathered and freed, no recompute.
    ['dpo, zero_stage 3, evaluation', 'dpo', { zero_stage: 3, eval_strategy: 'steps', eval_steps: 2 }],
  ] as const)(
    '%s',
    async (_, trainer, extra) => {
      const dir = tempDir(`zero3-${trainer}`);
      const { zero_stage: _stage, fsdp: _fsdp, ...unsharded } = extra as Record<string, unknown>;
      const one = configFor(trainer, dir, 8, { ...unsharded, output_dir: join(dir, 'one') });
      const { logHistory } = await train(one, { log: () => {} });
      const two = configFor(trainer, dir, 4, { ...extra, output_dir: join(dir, 'two') });
      const job = await alignkitTrain(two, dir, 2);
      expect(job.status, job.stderr).toBe(0);
      expect(job.stderr).toContain('note: zero_stage 3 recomputes every decoder layer in backward');
      expectSameLogs(logsOf(two), logHistory);
      // Rank 0 wrote the whole model (gathered from the shards): the 1-process weights.
      const [got, want] = await Promise.all(
        [two, one].map(async (c) => (await readSafetensors(join(c.output_dir, 'model.safetensors'))).tensors),
      );
      expect([...got!.keys()].sort()).toEqual([...want!.keys()].sort());
      for (const [name, w] of want!) {
        const [a, b] = [got!.get(name)!.data as Float32Array, w.data as Float32Array];
        let diff = 0;
        for (let i = 0; i < b.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        expect(diff, name).toBeLessThanOrEqual(1e-5 * Math.max(maxAbs(b), 1e-30));
      }
    },
    90_000,
  );

  it('a zero_stage 3 checkpoint of 2 processes resumes on 1 and continues as the 1-process run', async () => {
    const dir = tempDir('zero3-resume');
    const extra = { weight_decay: 0.1, max_grad_norm: 0.5 };
    const one = configFor('dpo', dir, 8, { ...extra, output_dir: join(dir, 'one') });
    const { logHistory } = await train(one, { log: () => {} });
    const two = configFor('dpo', dir, 4, {
      ...extra,
      zero_stage: 3,
      output_dir: join(dir, 'two'),
      save_strategy: 'steps',
      save_steps: 2,
    });
    const job = await alignkitTrain(two, dir, 2);
    expect(job.status, job.stderr).toBe(0);
    const resumed = await train(
      { ...one, output_dir: join(dir, 'resumed'), resume_from_checkpoint: join(two.output_dir, 'checkpoint-2') },
      { log: () => {} },
    );
    expectSameLogs(
      resumed.logHistory.filter((e) => e.step! > 2),
      logHistory.filter((e) => e.step! > 2),
    );
  }, 90_000);
});

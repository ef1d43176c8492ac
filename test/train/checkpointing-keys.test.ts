// The config keys that choose which decoder layers gradient checkpointing recomputes, end to end through train():
// gradient_checkpointing_kwargs.every_n_layers (a positive integer, as transformers 5.18 takes it) and
// activation_memory_budget (in [0, 1]; only with gradient_checkpointing; one of the two). A DPO, KTO and SFT run with
// some layers checkpointed logs what the run without checkpointing logs (the recompute changes no value).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/train/train-from-config.js';
import type { TrainConfig } from '../../src/types/config-types.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

/** Two steps of `trainer` on the fixture model and data (4 rows a step). */
function configFor(trainer: 'dpo' | 'kto' | 'sft', dir: string, extra: Record<string, unknown> = {}): TrainConfig {
  let data = join(fixturesDir, 'trl', trainer === 'kto' ? 'kto-train.jsonl' : 'dpo-train.jsonl');
  if (trainer === 'sft') {
    // The pairs' prompt + chosen as SFT's prompt-completion rows.
    const rows = readFileSync(data, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    data = join(dir, 'rows.jsonl');
    writeFileSync(data, rows.map((r) => JSON.stringify({ prompt: r.prompt, completion: r.chosen })).join('\n') + '\n');
  }
  return {
    trainer,
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    bf16: false,
    save_strategy: 'no',
    use_cpu: true,
    max_steps: 2,
    logging_steps: 1,
    per_device_train_batch_size: 4,
    learning_rate: 1e-3,
    ...extra,
  } as TrainConfig;
}

async function run(config: TrainConfig) {
  const notes: string[] = [];
  const { logHistory } = await train(config, { log: (message) => notes.push(message) });
  return { logs: withoutTimings(logHistory as Record<string, number>[]), notes };
}

describe.each(['dpo', 'kto', 'sft'] as const)('trainer %s', (trainer) => {
  it('every_n_layers 2 and activation_memory_budget 0.5 log what the run without checkpointing logs', async () => {
    const dir = tempDir(`keys-every-n-${trainer}`);
    const plain = await run(configFor(trainer, dir, { gradient_checkpointing: false }));
    const everyOther = await run(
      configFor(trainer, dir, { gradient_checkpointing: true, gradient_checkpointing_kwargs: { every_n_layers: 2 } }),
    );
    const budget = await run(configFor(trainer, dir, { gradient_checkpointing: true, activation_memory_budget: 0.5 }));
    expect(plain.logs).toHaveLength(3);
    expect(everyOther.logs).toEqual(plain.logs);
    expect(budget.logs).toEqual(plain.logs);
  });
});

describe('refused or noted before any work', () => {
  const dir = tempDir('keys-every-n-refused');
  const dpo = (extra: Record<string, unknown>) => configFor('dpo', dir, { gradient_checkpointing: true, ...extra });

  it.each([0, -1, 1.5, '2', null])('every_n_layers %s is refused', async (n) => {
    await expect(train(dpo({ gradient_checkpointing_kwargs: { every_n_layers: n } }))).rejects.toThrow(
      /gradient_checkpointing_kwargs.every_n_layers must be a positive integer/,
    );
  });

  it('activation_memory_budget outside [0, 1] is refused at config load', async () => {
    for (const budget of [-0.1, 1.5])
      await expect(train(dpo({ activation_memory_budget: budget }))).rejects.toThrow(/activation_memory_budget/);
  });

  it('activation_memory_budget with every_n_layers other than 1 is refused: one way to say it', async () => {
    await expect(
      train(dpo({ activation_memory_budget: 0.5, gradient_checkpointing_kwargs: { every_n_layers: 2 } })),
    ).rejects.toThrow(/activation_memory_budget and gradient_checkpointing_kwargs.every_n_layers both choose/);
    // every_n_layers 1 says nothing more than the default: accepted with a budget.
    const { notes } = await run(
      dpo({ activation_memory_budget: 0.5, gradient_checkpointing_kwargs: { every_n_layers: 1 }, max_steps: 1 }),
    );
    expect(notes.filter((n) => /activation_memory_budget/.test(n))).toEqual([]);
  });

  it('activation_memory_budget without gradient_checkpointing: one note, no effect', async () => {
    const { notes } = await run(dpo({ gradient_checkpointing: false, activation_memory_budget: 0.5, max_steps: 1 }));
    expect(
      notes.filter((n) => /activation_memory_budget has no effect without gradient_checkpointing/.test(n)),
    ).toHaveLength(1);
  });
});

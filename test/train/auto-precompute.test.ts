// precompute_ref_log_probs chosen by alignkit when the config does not write it (src/train/auto-precompute.ts): on,
// with one note, when DPO or KTO trains over its training set more than once (num_train_epochs > 1, or max_steps past
// one epoch), and then the run logs exactly what the run with precompute_ref_log_probs: true logs; written false (or
// true) is kept; one epoch, sync_ref_model, or KTO KL rows precomputed from other batches than training's keep it off.
// bf16 autocast is on so that a reference run on every step (under autocast) and a precomputed one (float32, as TRL
// precomputes) give different values: which one ran shows in the logs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/train/train-from-config.js';
import type { TrainConfig } from '../../src/types/config-types.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

const NOTE = /note: precompute_ref_log_probs is on: the run trains over the same training set more than once/;

/** 8 rows, 4 a step: 2 steps an epoch, 2 epochs (TRL's default is 3). */
function configFor(trainer: 'dpo' | 'kto', name: string, extra: Record<string, unknown> = {}): TrainConfig {
  return {
    trainer,
    model_name_or_path: modelDir('llama'),
    train_dataset: join(fixturesDir, 'trl', trainer === 'kto' ? 'kto-train.jsonl' : 'dpo-train.jsonl'),
    output_dir: join(tempDir(`auto-precompute-${name}`), 'out'),
    bf16: true,
    save_strategy: 'no',
    use_cpu: true,
    num_train_epochs: 2,
    logging_steps: 1,
    per_device_train_batch_size: 4,
    learning_rate: 1e-3,
    ...extra,
  } as TrainConfig;
}

async function run(config: TrainConfig) {
  const notes: string[] = [];
  const { logHistory } = await train(config, { log: (message) => notes.push(message) });
  return { logs: withoutTimings(logHistory as Record<string, number>[]), notes: notes.filter((n) => NOTE.test(n)) };
}

describe.each(['dpo', 'kto'] as const)('trainer %s', (trainer) => {
  it('over two epochs, unwritten: on with one note, the explicit precompute run; written false: off', async () => {
    const auto = await run(configFor(trainer, `${trainer}-auto`));
    const precomputed = await run(configFor(trainer, `${trainer}-true`, { precompute_ref_log_probs: true }));
    const perStep = await run(configFor(trainer, `${trainer}-false`, { precompute_ref_log_probs: false }));
    expect(auto.notes).toHaveLength(1);
    expect(auto.notes[0]).toMatch(/write precompute_ref_log_probs: false/);
    expect(auto.logs).toHaveLength(5);
    expect(auto.logs).toEqual(precomputed.logs);
    expect(precomputed.notes).toEqual([]);
    expect(perStep.notes).toEqual([]);
    expect(perStep.logs[0]!.loss).not.toBe(precomputed.logs[0]!.loss);
  });

  it('one epoch, or max_steps within it: off, no note', async () => {
    for (const extra of [{ num_train_epochs: 1 }, { max_steps: 2 }]) {
      const { notes } = await run(configFor(trainer, `${trainer}-one-epoch`, extra));
      expect(notes).toEqual([]);
    }
    // max_steps past one epoch reuses the first batches.
    expect((await run(configFor(trainer, `${trainer}-max-steps`, { max_steps: 3 }))).notes).toHaveLength(1);
  });

  it('with sync_ref_model the reference moves: off, no note', async () => {
    const { notes } = await run(configFor(trainer, `${trainer}-sync`, { sync_ref_model: true, max_steps: 3 }));
    expect(notes).toEqual([]);
  });
});

it("KTO: KL rows precomputed from other batches than training's (precompute_ref_batch_size): off, no note", async () => {
  const { notes } = await run(configFor('kto', 'kto-pre-batch', { precompute_ref_batch_size: 2 }));
  expect(notes).toEqual([]);
  // Without KL rows (apo_zero_unpaired) neither the batches nor their order matter.
  const apo = await run(
    configFor('kto', 'kto-random-apo', {
      train_sampling_strategy: 'random',
      precompute_ref_batch_size: 2,
      loss_type: 'apo_zero_unpaired',
    }),
  );
  expect(apo.notes).toHaveLength(1);
});

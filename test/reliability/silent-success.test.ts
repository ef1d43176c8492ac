// Nothing silently wrong: a run with no data, or whose loss turns NaN, or whose config cannot train, is refused
// with the reason (and rc 1), never "trained" with rc 0. A NaN never reaches a saved file.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, train, type TrainConfig } from '../../src/index.js';
import { loadConfig, resolveConfig } from '../../src/config/load-config.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';
import { dpoConfig, dpoData, expectOneLineError, runCli } from './cli-run.js';

const quiet = { log: () => {} };
const base = {
  model_name_or_path: modelDir('llama'),
  use_cpu: true,
  bf16: false,
  gradient_checkpointing: false,
  max_steps: 2,
  save_strategy: 'no',
};
// The table's rows are data (a trainer name and keys per row): a config built at run time is passed as TrainConfig.
const rejection = (config: Record<string, unknown>) =>
  train(config as TrainConfig, quiet).then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );

describe('no rows to train on', () => {
  const dir = tempDir('no-rows');
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const invalid = join(dir, 'invalid.jsonl');
  writeFileSync(invalid, '{"prompt": "a", "chosen": "b"}\n{"prompt": "c", "rejected": "d"}\n');
  const sftRows = join(dir, 'sft.jsonl');
  writeFileSync(
    sftRows,
    '{"prompt": "The sky is", "completion": " blue today."}\n{"prompt": "Two plus two is", "completion": " four."}\n',
  );

  it.each([
    [
      'dpo',
      'an empty file',
      { train_dataset: empty },
      `train_dataset ${empty}: no rows to train on (the dataset holds no rows)`,
    ],
    [
      'dpo',
      'every row dropped by max_length: 1',
      { train_dataset: dpoData, max_length: 1 },
      `train_dataset ${dpoData}: no rows to train on (all 8 row(s) were left out: 8 dropped because the prompt alone fills max_length=1 (truncation_mode keep_start))`,
    ],
    [
      'dpo',
      'every row invalid and skipped',
      { train_dataset: invalid, skip_invalid_rows: true },
      'no rows to train on (all 2 row(s) were left out: 2 skipped as invalid (skip_invalid_rows: true))',
    ],
    [
      'sft',
      'every row left without a trained token',
      { train_dataset: sftRows, max_length: 1, completion_only_loss: true },
      'no rows to train on (all 2 row(s) were left out: 2 dropped because no trained token is left within max_length=1)',
    ],
    ['kto', 'an empty file', { train_dataset: empty }, 'no rows to train on (the dataset holds no rows)'],
    [
      'dpo',
      'a 0-row eval split',
      { train_dataset: dpoData, eval_dataset: empty, eval_strategy: 'steps', eval_steps: 1 },
      `eval_dataset ${empty}: no rows to evaluate on (the dataset holds no rows)`,
    ],
  ])('%s: %s is refused, with the count behind each reason', async (trainer, _, data, message) => {
    const out = join(dir, `out-${trainer}-${Object.keys(data).join('-')}-${Math.random().toString(36).slice(2)}`);
    const error = await rejection({ ...base, trainer, output_dir: out, ...data });
    expect(error).toMatchObject({ code: 'ERR_INVALID_DATA' });
    expect(error.message).toContain(message);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
  });

  it('rows that make no batch under dataloader_drop_last are refused', async () => {
    const error = await rejection({
      ...base,
      trainer: 'dpo',
      train_dataset: dpoData,
      output_dir: join(dir, 'drop-last'),
      per_device_train_batch_size: 16,
      dataloader_drop_last: true,
    });
    expect(error.message).toMatch(
      /train_dataset's 8 row\(s\) make no batch of per_device_train_batch_size 16 with dataloader_drop_last/,
    );
  });

  it('the CLI exits 1 with one line, not rc 0 with train_loss 0.000', () => {
    const result = runCli(['train', dpoConfig(dir, { max_length: 1, output_dir: join(dir, 'cli') })]);
    expectOneLineError(result, 'ERR_INVALID_DATA', '8 dropped because the prompt alone fills max_length=1');
    expect(result.stdout).not.toContain('done:');
  });
});

describe('a loss that turns NaN', () => {
  it('stops at that step naming it, keeps the last good checkpoint and writes no model', async () => {
    const out = join(tempDir('nan-loss'), 'out');
    const error = await rejection({
      ...base,
      trainer: 'dpo',
      train_dataset: dpoData,
      output_dir: out,
      learning_rate: 1e30,
      max_steps: 6,
      save_strategy: 'steps',
      save_steps: 1,
      per_device_train_batch_size: 2,
    });
    expect(error).toMatchObject({ code: 'ERR_NOT_FINITE' });
    const step = Number(/^step (\d+): the (loss|gradient norm) is (NaN|Infinity|-Infinity)/.exec(error.message)?.[1]);
    expect(step).toBeGreaterThan(1);
    expect(error.message).toContain(`the last good checkpoint is ${join(out, `checkpoint-${step - 1}`)}`);
    // Nothing from the failing step or after it is saved, and no saved weight is NaN.
    expect(
      readdirSync(out)
        .filter((f) => f.startsWith('checkpoint-'))
        .sort(),
    ).toEqual(Array.from({ length: step - 1 }, (_, i) => `checkpoint-${i + 1}`).sort());
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
    const { tensors } = await readSafetensors(join(out, `checkpoint-${step - 1}`, 'model.safetensors'));
    for (const [name, t] of tensors) expect(t.data.every(Number.isFinite), name).toBe(true);
  });
});

describe('values that cannot train are refused at config load', () => {
  const dir = tempDir('untrainable');
  const yaml = (lines: string[]) => {
    const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, ['trainer: dpo', ...lines].join('\n') + '\n');
    return path;
  };

  it('YAML .nan and .inf are named as NaN and Infinity (not "null")', async () => {
    await expect(loadConfig(yaml(['learning_rate: .nan']))).rejects.toThrow(
      "'learning_rate' must be a number, got NaN",
    );
    await expect(loadConfig(yaml(['learning_rate: .inf']))).rejects.toThrow(
      "'learning_rate' must be a finite number, got Infinity",
    );
    await expect(loadConfig(yaml(['max_grad_norm: -.inf']))).rejects.toThrow(
      "'max_grad_norm' must be a finite number, got -Infinity",
    );
    await expect(loadConfig(yaml(['loss_weights: [1, .nan]']))).rejects.toThrow(
      "'loss_weights' must be a list of finite numbers",
    );
  });

  it.each([
    [{ trainer: 'dpo', beta: 0 }, "'beta' must be above 0 for loss_type sigmoid, got 0"],
    [{ trainer: 'dpo', beta: -0.1, loss_type: ['ipo', 'sft'] }, "'beta' must be above 0 for loss_type ipo, got -0.1"],
    [{ trainer: 'kto', beta: 0 }, "'beta' must be above 0 for KTO's loss_type kto, got 0"],
    [
      { trainer: 'dpo', loss_type: 'robust', label_smoothing: 0.5 },
      "'label_smoothing' must be below 0.5 for loss_type robust",
    ],
    [{ trainer: 'sft', adam_beta2: 1 }, "'adam_beta2' must be below 1, got 1"],
    [
      { trainer: 'sft', num_train_epochs: 0 },
      "'num_train_epochs' is 0 and max_steps is unset: the run would train no step",
    ],
  ])('%o', (config, message) => {
    expect(() => resolveConfig(config)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining(message) }),
    );
  });

  it('beta 0 is fine where no loss reads it (loss_type sft), and the CLI refuses in one line', () => {
    expect(resolveConfig({ trainer: 'dpo', beta: 0, loss_type: 'sft' })).toMatchObject({ beta: 0 });
    const result = runCli(['train', dpoConfig(dir, { beta: 0 })]);
    expectOneLineError(result, 'ERR_INVALID_CONFIG', "'beta' must be above 0");
  });
});

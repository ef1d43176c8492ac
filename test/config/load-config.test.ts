// Config keys, types and defaults against TRL 1.13 (its dataclasses, as test/fixtures/trl/config-fields.json records them).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadConfig, resolveConfig, type DpoConfig } from '../../src/config/load-config.js';
import { tempDir } from '../helpers/fixtures.js';

describe('resolveConfig', () => {
  it('fills TRL 1.13 DPOConfig defaults', () => {
    const c = resolveConfig({ trainer: 'dpo' }) as DpoConfig;
    expect(c).toMatchObject({
      learning_rate: 1e-6,
      beta: 0.1,
      loss_type: ['sigmoid'],
      loss_weights: null,
      label_smoothing: 0,
      max_length: 1024,
      truncation_mode: 'keep_start',
      logging_steps: 10,
      gradient_checkpointing: true,
      bf16: null,
      per_device_train_batch_size: 8,
      gradient_accumulation_steps: 1,
      num_train_epochs: 3,
      max_steps: -1,
      lr_scheduler_type: 'linear',
      warmup_steps: 0,
      seed: 42,
      f_divergence_type: 'reverse_kl',
      f_alpha_divergence_coef: 0.5,
      discopop_tau: 0.05,
      ref_model_mixup_alpha: 0.6,
      ref_model_sync_steps: 512,
    });
    expectTypeOf(c.loss_type).toEqualTypeOf<DpoConfig['loss_type']>();
  });

  it('fills SFTConfig defaults, which differ from DPO’s', () => {
    expect(resolveConfig({ trainer: 'sft' })).toMatchObject({
      learning_rate: 2e-5,
      dataset_text_field: 'text',
      packing: false,
      packing_strategy: 'bfd',
      completion_only_loss: null,
      assistant_only_loss: false,
    });
  });

  it('fills KTOConfig defaults, with its own loss types and no truncation_mode', () => {
    expect(resolveConfig({ trainer: 'kto' })).toMatchObject({
      learning_rate: 1e-6,
      beta: 0.1,
      loss_type: 'kto',
      desirable_weight: 1,
      undesirable_weight: 1,
      max_length: 1024,
      train_sampling_strategy: 'sequential',
      precompute_ref_log_probs: null,
      precompute_ref_batch_size: null,
      disable_dropout: true,
      sync_ref_model: false,
      ref_model_mixup_alpha: 0.6,
      ref_model_sync_steps: 512,
    });
    expect(() => resolveConfig({ trainer: 'kto', loss_type: 'sigmoid' })).toThrow(
      /'loss_type' must be one of kto, apo_zero_unpaired/,
    );
    expect(() => resolveConfig({ trainer: 'kto', truncation_mode: 'keep_end' })).toThrow(
      /unknown key 'truncation_mode' for trainer kto/,
    );
  });

  it('wraps a single loss_type in a list, as TRL does', () => {
    expect((resolveConfig({ trainer: 'dpo', loss_type: 'ipo' }) as DpoConfig).loss_type).toEqual(['ipo']);
  });

  it('names the closest valid key for a typo', () => {
    expect(() => resolveConfig({ trainer: 'dpo', betta: 0.2 }, 'run.yaml')).toThrow(
      "run.yaml: unknown key 'betta' for trainer dpo (did you mean 'beta'?)",
    );
    expect(() => resolveConfig({ trainer: 'dpo', learningrate: 1e-5 })).toThrow(/did you mean 'learning_rate'/);
    expect(() => resolveConfig({ trainer: 'dpo', packing: true })).toThrow(/unknown key 'packing' for trainer dpo/);
  });

  it('says what a wrong value should have been', () => {
    expect(() => resolveConfig({ trainer: 'dpo', beta: 'high' })).toThrow(
      '\'beta\' must be a number, got string "high"',
    );
    expect(() => resolveConfig({ trainer: 'dpo', loss_type: ['sigmoid', 'dpo'] })).toThrow(
      /'loss_type' must be one or a list of sigmoid, hinge/,
    );
    expect(() => resolveConfig({ trainer: 'dpo', per_device_train_batch_size: 2.5 })).toThrow(/must be an integer/);
    expect(() => resolveConfig({ trainer: 'dpo', max_length: null })).not.toThrow();
    expect(() => resolveConfig({ trainer: 'dpo', beta: null })).toThrow(/'beta' cannot be null/);
    expect(() => resolveConfig({ trainer: 'ppo' })).toThrow(
      /'trainer' must be one of dpo, sft, kto, online_dpo, orpo, cpo, bco, reward, got string "ppo"/,
    );
  });

  it('takes resume_from_checkpoint as a folder or true/false, as Trainer.train does', () => {
    expect(resolveConfig({ trainer: 'dpo' }).resume_from_checkpoint).toBe(null);
    expect(resolveConfig({ trainer: 'dpo', resume_from_checkpoint: true }).resume_from_checkpoint).toBe(true);
    expect(resolveConfig({ trainer: 'dpo', resume_from_checkpoint: 'out/checkpoint-4' }).resume_from_checkpoint).toBe(
      'out/checkpoint-4',
    );
    expect(() => resolveConfig({ trainer: 'dpo', resume_from_checkpoint: 4 })).toThrow(
      "'resume_from_checkpoint' must be a string or true/false, got number 4",
    );
  });

  it('reads numbers written as strings (PyYAML leaves 5e-7 a string)', () => {
    expect(resolveConfig({ trainer: 'dpo', learning_rate: '5e-7' }).learning_rate).toBe(5e-7);
  });
});

describe('loadConfig', () => {
  it('reads YAML and JSON files with the file named in errors', async () => {
    const dir = tempDir('config');
    writeFileSync(
      join(dir, 'a.yaml'),
      'trainer: dpo\nbeta: 0.25\nloss_type: [sigmoid, sft]\nloss_weights: [1.0, 0.5]\n',
    );
    expect(await loadConfig(join(dir, 'a.yaml'))).toMatchObject({
      beta: 0.25,
      loss_type: ['sigmoid', 'sft'],
      loss_weights: [1, 0.5],
    });
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ trainer: 'sft', max_length: 512 }));
    expect((await loadConfig(join(dir, 'b.json'))).max_length).toBe(512);
    writeFileSync(join(dir, 'c.yaml'), 'trainer: dpo\nbeta: [unclosed\n');
    await expect(loadConfig(join(dir, 'c.yaml'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringContaining('c.yaml: not valid YAML'),
    });
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

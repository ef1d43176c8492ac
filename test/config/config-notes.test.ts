// TRL keys alignkit does not implement: a refused one is an error at config load naming the file and the key, before
// any work; one without effect is accepted and noted once when training starts; a key TRL does not have either is
// still an unknown key with a hint.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configNotes, refusalOf } from '../../src/config/config-notes.js';
import { loadConfig, resolveConfig } from '../../src/config/load-config.js';
import { noEffect, oneOf, refused, str } from '../../src/config/schema.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';
import { train } from '../../src/train/train-from-config.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

describe('refused keys', () => {
  it('a refused key set away from its default is an error naming the file and the key, with the reason', async () => {
    const dir = tempDir('config-refused');
    const path = join(dir, 'recipe.yaml');
    writeFileSync(path, 'trainer: dpo\ndeepspeed: configs/zero3.json\n');
    await expect(loadConfig(path)).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message:
        `${path}: deepspeed: "configs/zero3.json" is not supported: DeepSpeed is not used: alignkit runs one process per ` +
        'device with DistributedDataParallel semantics; sharding exists as zero_stage: 1 (DeepSpeed ZeRO-1: optimizer ' +
        'state), zero_stage: 2 (ZeRO-2: optimizer state and gradients, also spelled fsdp: shard_grad_op) and ' +
        'zero_stage: 3 (ZeRO-3: parameters too, also spelled fsdp: full_shard)',
    });
    for (const [key, value, reason] of [
      ['fsdp', 'full_shard offload', /fsdp: offload is not supported: CPU offload/],
      ['neftune_noise_alpha', 5, /NEFTune/],
      ['auto_find_batch_size', true, /does not retry smaller batches/],
      ['load_best_model_at_end', true, /keeps no best checkpoint/],
      ['bf16_full_eval', true, /evaluation runs in the training precision/],
      ['average_tokens_across_devices', false, /only true is implemented/],
      ['accelerator_config', { split_batches: true }, /does not use Accelerate/],
    ] as const) {
      expect(() => resolveConfig({ trainer: 'dpo', [key]: value }, 'r.yaml'), key).toThrow(reason);
    }
  });

  it("SFT's dataset_kwargs: skip_prepare_dataset is refused, any other mapping noted as having no effect", () => {
    expect(() => resolveConfig({ trainer: 'sft', dataset_kwargs: { skip_prepare_dataset: true } }, 'r.yaml')).toThrow(
      /skip_prepare_dataset .* is not implemented/,
    );
    const config = resolveConfig({ trainer: 'sft', dataset_kwargs: { skip_prepare_dataset: false } });
    expect(configNotes(config, trainerSchemas.sft)).toEqual([
      'note: dataset_kwargs: {"skip_prepare_dataset":false} has no effect in alignkit: SFTConfig reads only its skip_prepare_dataset key (other keys are ignored by TRL too)',
    ]);
  });

  it('left at its default (written or not), a refused key is accepted', () => {
    expect(
      resolveConfig({
        trainer: 'dpo',
        deepspeed: null,
        fsdp: null,
        neftune_noise_alpha: null,
        auto_find_batch_size: false,
      }),
    ).toMatchObject({ deepspeed: null, auto_find_batch_size: false });
  });

  it('label_smoothing_factor: refused for SFT (the Trainer would smooth its loss), noted for DPO and KTO (their loss never reads it)', () => {
    expect(() => resolveConfig({ trainer: 'sft', label_smoothing_factor: 0.1 })).toThrow(
      /label smoothing of SFT's cross-entropy/,
    );
    for (const trainer of ['dpo', 'kto'] as const) {
      const config = resolveConfig({ trainer, label_smoothing_factor: 0.1 });
      expect(configNotes(config, trainerSchemas[trainer])).toEqual([
        expect.stringContaining(
          "label_smoothing_factor: 0.1 has no effect in alignkit: TRL's DPOTrainer and KTOTrainer compute their own loss",
        ),
      ]);
    }
  });

  it("train_sampling_strategy: 'random' and 'sequential' are implemented, the length-grouped samplers refused", () => {
    expect(resolveConfig({ trainer: 'dpo' }).train_sampling_strategy).toBe('random');
    expect(resolveConfig({ trainer: 'sft', train_sampling_strategy: 'sequential' }).train_sampling_strategy).toBe(
      'sequential',
    );
    expect(resolveConfig({ trainer: 'kto' }).train_sampling_strategy).toBe('sequential');
    expect(() => resolveConfig({ trainer: 'sft', train_sampling_strategy: 'batch_rebalance' })).toThrow(
      'train_sampling_strategy: "batch_rebalance" is not supported',
    );
  });

  it('refusalOf: only the listed values when a field lists them', () => {
    const field = refused(oneOf(['a', 'b', 'c'], 'a'), 'b and c are not implemented here', ['c']);
    expect(refusalOf('k', field, 'b')).toBeUndefined();
    expect(refusalOf('k', field, 'c')).toBe('k: "c" is not supported: b and c are not implemented here');
    expect(refusalOf('k', refused(str(null), 'never'), 'x')).toBe('k: "x" is not supported: never');
    expect(refusalOf('k', refused(str(null), 'never'), null)).toBeUndefined();
  });
});

describe('keys without effect', () => {
  it('one note per key set away from its default, saying why', () => {
    const config = resolveConfig({
      trainer: 'dpo',
      log_level: 'info',
      do_eval: true,
      dataloader_num_workers: 4,
      torch_compile: true,
      tf32: true,
      remove_unused_columns: true,
      dataloader_pin_memory: true, // TRL's defaults: no note
    });
    expect(configNotes(config, trainerSchemas.dpo).map((n) => n.split(' has no effect')[0])).toEqual([
      'note: tf32: true',
      'note: torch_compile: true',
      'note: log_level: "info"',
      'note: dataloader_num_workers: 4',
      'note: do_eval: true',
    ]);
    expect(configNotes(resolveConfig({ trainer: 'sft' }), trainerSchemas.sft)).toEqual([]);
    expect(configNotes({ k: 'x' }, { k: noEffect(str(null), 'because') })).toEqual([
      'note: k: "x" has no effect in alignkit: because',
    ]);
  });

  it('train() prints each note once', async () => {
    const dir = tempDir('config-notes-train');
    const printed: string[] = [];
    await train(
      {
        trainer: 'dpo',
        model_name_or_path: modelDir('llama'),
        train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        output_dir: dir,
        bf16: false,
        gradient_checkpointing: false,
        max_steps: 2,
        logging_steps: 1,
        save_strategy: 'no',
        log_level: 'info',
        dataloader_num_workers: 2,
      },
      { log: (message) => printed.push(message) },
    );
    const notes = printed.filter((line) => / has no effect in alignkit: /.test(line));
    expect(notes.map((n) => n.split(':')[1]!.trim())).toEqual(['log_level', 'dataloader_num_workers']);
  });
});

describe('keys TRL does not have', () => {
  it('are still unknown keys, with the nearest valid name', () => {
    expect(() => resolveConfig({ trainer: 'dpo', learning_rat: 1e-6 }, 'r.yaml')).toThrow(
      "r.yaml: unknown key 'learning_rat' for trainer dpo (did you mean 'learning_rate'?)",
    );
    expect(() => resolveConfig({ trainer: 'dpo', log_levl: 'info' }, 'r.yaml')).toThrow("(did you mean 'log_level'?)");
    expect(() => resolveConfig({ trainer: 'dpo', not_a_trl_key: 1 }, 'r.yaml')).toThrow(
      "r.yaml: unknown key 'not_a_trl_key' for trainer dpo",
    );
  });

  it('a config without trainer: points a TRL recipe to alignkit dpo|sft|kto|orpo|cpo|bco|reward', () => {
    expect(() => resolveConfig({ beta: 0.1 }, 'recipe.yaml')).toThrow(
      "recipe.yaml: 'trainer' is missing (one of dpo, sft, kto, online_dpo, orpo, cpo, bco, reward); a TRL or alignment-handbook recipe, which has none, runs with alignkit dpo|sft|kto|orpo|cpo|bco|reward recipe.yaml",
    );
  });
});

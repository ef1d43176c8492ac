// Old spellings recipes still carry (transformers 4.x, TRL < 1), read as those versions meant them: renamed to the
// transformers 5.18 / TRL 1.13 key, or noted / refused like any key alignkit does not implement.
import { describe, expect, it } from 'vitest';
import { configNotes } from '../../src/config/config-notes.js';
import { resolveConfig } from '../../src/config/load-config.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';

const dpo = (keys: Record<string, unknown>) => resolveConfig({ trainer: 'dpo', ...keys }, 'old.yaml');

describe('old spellings are renamed as transformers 4 / TRL read them', () => {
  it('warmup_ratio is a warmup_steps below 1 (transformers 5: a ratio of the total steps)', () => {
    expect(dpo({ warmup_ratio: 0.1 }).warmup_steps).toBe(0.1);
    expect(dpo({ warmup_ratio: '0.05' }).warmup_steps).toBe(0.05);
    // 4.x read warmup_steps 0 as "use warmup_ratio"; the same value twice agrees.
    expect(dpo({ warmup_ratio: 0.1, warmup_steps: 0 }).warmup_steps).toBe(0.1);
    expect(dpo({ warmup_ratio: 0.1, warmup_steps: 0.1 }).warmup_steps).toBe(0.1);
    expect(() => dpo({ warmup_ratio: 0.1, warmup_steps: 5 })).toThrow(
      "old.yaml: 'warmup_ratio: 0.1' (the old spelling of warmup_steps) disagrees with 'warmup_steps: 5'; keep one",
    );
    expect(() => dpo({ warmup_ratio: 1 })).toThrow(
      /warmup_ratio: 1 \(warm up over every step\) has no transformers 5 spelling/,
    );
    expect(() => dpo({ warmup_ratio: 1.5 })).toThrow("old.yaml: 'warmup_ratio' must be a number in [0, 1], got 1.5");
  });

  it('evaluation_strategy, per_gpu_*_batch_size, no_cuda and torchdynamo are their transformers 5 keys', () => {
    expect(dpo({ evaluation_strategy: 'steps', eval_dataset: 'e.jsonl' }).eval_strategy).toBe('steps');
    expect(() => dpo({ evaluation_strategy: 'steps', eval_strategy: 'epoch' })).toThrow(
      /'evaluation_strategy: "steps"' \(the old spelling of eval_strategy\) disagrees/,
    );
    expect(dpo({ per_gpu_train_batch_size: 4, per_gpu_eval_batch_size: 2 })).toMatchObject({
      per_device_train_batch_size: 4,
      per_device_eval_batch_size: 2,
    });
    expect(dpo({ no_cuda: true }).use_cpu).toBe(true);
    expect(dpo({ no_cuda: false }).use_cpu).toBe(false);
    expect(dpo({ torchdynamo: 'inductor' }).torch_compile_backend).toBe('inductor');
    expect('evaluation_strategy' in dpo({ evaluation_strategy: 'no' })).toBe(false);
  });

  it("max_seq_length is SFT's max_length (TRL < 0.20); DPO never had it", () => {
    expect(resolveConfig({ trainer: 'sft', max_seq_length: 2048 }).max_length).toBe(2048);
    expect(() => dpo({ max_seq_length: 2048 })).toThrow(
      "old.yaml: unknown key 'max_seq_length' for trainer dpo (did you mean 'max_length'?)",
    );
  });

  it("group_by_length: true is train_sampling_strategy 'group_by_length', which is refused; false changes nothing", () => {
    expect(dpo({ group_by_length: false }).train_sampling_strategy).toBe('random');
    expect(() => dpo({ group_by_length: true })).toThrow(
      'old.yaml: train_sampling_strategy: "group_by_length" is not supported: length-grouped samplers are not implemented (group_by_length: true means',
    );
  });

  it('the removed keys without a new spelling are noted or refused', () => {
    const config = dpo({
      overwrite_output_dir: true,
      save_safetensors: true,
      fp16_backend: 'auto',
      half_precision_backend: 'apex',
    });
    expect(configNotes(config, trainerSchemas.dpo)).toEqual([
      expect.stringMatching(
        /^note: overwrite_output_dir: true has no effect in alignkit: removed in transformers 5; .*resume_from_checkpoint: true$/,
      ),
      expect.stringMatching(
        /^note: half_precision_backend: "apex" has no effect in alignkit: removed in transformers 5/,
      ),
    ]);
    expect(() => dpo({ adafactor: true })).toThrow(
      /old\.yaml: adafactor: true is not supported: removed in transformers 5 \(it meant optim: adafactor\)/,
    );
    expect(() => dpo({ push_to_hub_model_id: 'me/model' })).toThrow(
      /push_to_hub_model_id: "me\/model" is not supported: removed in transformers 5: write hub_model_id/,
    );
    expect(() => dpo({ fsdp_transformer_layer_cls_to_wrap: 'LlamaDecoderLayer' })).toThrow(
      /alignkit wraps no FSDP modules of its own choosing/,
    );
  });
});

// The model keys of TRL 1.13's ModelConfig and trainer configs, config → behaviour: the dtype a model is loaded in
// (against TRL's create_model_from_path, recorded by scripts/fixtures/make_trl_dtype_train.py), the checks on
// model_init_kwargs and gradient_checkpointing_kwargs, what is refused (quantization, DoRA, float16, LoRA on
// bfloat16 weights, activation offloading) or noted, and save_only_model checkpoints.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configNotes } from '../../src/config/config-notes.js';
import { resolveConfig } from '../../src/config/load-config.js';
import { dpoSchema, ktoSchema, sftSchema } from '../../src/config/trainer-fields.js';
import { trainingDtype } from '../../src/train/model-init.js';
import { train } from '../../src/train/train-from-config.js';
import { loadTrainingModel } from '../../src/train/policy-setup.js';
import type { DpoConfig } from '../../src/types/config-types.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const { loads } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dtype-train.json'), 'utf8')) as {
  loads: { model: string; keys: Record<string, unknown>; dtype: string }[];
};

/** One DPO step on the 8 fixture pairs; `notes` collects what the run prints. */
function dpoConfig(dir: string, extra: Omit<DpoConfig, 'trainer'> = {}): DpoConfig {
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl')));
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    max_steps: 1,
    per_device_train_batch_size: 8,
    learning_rate: 1e-3,
    ...extra,
  };
}

async function notesOf(config: DpoConfig): Promise<string[]> {
  const notes: string[] = [];
  await train(config, { log: (message) => notes.push(message) });
  return notes;
}

describe('the dtype weights are loaded and trained in', () => {
  it.each(loads.map((l) => [`${l.model} ${JSON.stringify(l.keys)} → ${l.dtype}`, l] as const))(
    'as TRL: %s',
    async (_, l) => {
      const config = resolveConfig({ trainer: 'dpo', use_cpu: true, ...l.keys });
      const model = await loadTrainingModel(config, modelDir(l.model));
      expect(model.config.dtype).toBe(l.dtype);
      await model.dispose();
    },
  );

  // torch_dtype is ModelConfig's name before TRL renamed it to dtype; the alignment-handbook's get_model passed it to
  // from_pretrained(torch_dtype=...), where transformers 4 read None as float32 (torch's default dtype).
  it('the old top-level torch_dtype means dtype; null is float32, as it was', () => {
    const dtypeOf = (keys: Record<string, unknown>) => trainingDtype(resolveConfig({ trainer: 'sft', ...keys }));
    expect(dtypeOf({ torch_dtype: 'bfloat16' })).toBe('bfloat16');
    expect(dtypeOf({ torch_dtype: 'auto' })).toBe('auto');
    expect(dtypeOf({ torch_dtype: null })).toBe('float32');
    expect(dtypeOf({ torch_dtype: 'bfloat16', dtype: 'bfloat16', model_init_kwargs: { dtype: 'bfloat16' } })).toBe(
      'bfloat16',
    );
  });

  it('refuses keys that disagree, and a dtype TRL does not know', () => {
    const dtypeOf = (keys: Record<string, unknown>) => trainingDtype(resolveConfig({ trainer: 'kto', ...keys }));
    expect(() => dtypeOf({ dtype: 'bfloat16', torch_dtype: 'float32' })).toThrow(
      /dtype: bfloat16 and torch_dtype: float32 disagree/,
    );
    expect(() => dtypeOf({ torch_dtype: 'bfloat16', model_init_kwargs: { dtype: 'float32' } })).toThrow(
      /torch_dtype: bfloat16 and model_init_kwargs.dtype: float32 disagree/,
    );
    expect(() => dtypeOf({ model_init_kwargs: { dtype: 'int8' } })).toThrow(
      /model_init_kwargs.dtype must be one of auto, bfloat16, float16, float32/,
    );
    expect(() => resolveConfig({ trainer: 'dpo', dtype: 'float64' })).toThrow(
      /'dtype' must be one of auto, bfloat16, float16, float32/,
    );
  });

  it('refuses training float16 weights, asked for or found by auto', async () => {
    await expect(train(dpoConfig(tempDir('keys-f16'), { dtype: 'float16' }))).rejects.toThrow(
      /training float16 weights is not implemented/,
    );
    const config = resolveConfig({ trainer: 'dpo', use_cpu: true, dtype: 'auto' });
    await expect(loadTrainingModel(config, modelDir('qwen2-f16'))).rejects.toThrow(
      /training float16 weights is not implemented/,
    );
  });

  it('refuses LoRA on bfloat16 weights (PEFT keeps its adapters in float32), asked for or found by auto', async () => {
    const dir = tempDir('keys-lora-bf16');
    await expect(train(dpoConfig(dir, { use_peft: true, dtype: 'bfloat16' }))).rejects.toThrow(
      /LoRA on bfloat16 weights is not implemented/,
    );
    // The bfloat16 fixture with the llama tokenizer: dtype auto finds bfloat16 once the model is loaded.
    const model = join(dir, 'llama-bf16');
    mkdirSync(model);
    for (const [from, name] of [
      ['llama-bf16', 'config.json'],
      ['llama-bf16', 'model.safetensors'],
      ['llama', 'tokenizer.json'],
      ['llama', 'tokenizer_config.json'],
    ]) {
      copyFileSync(join(modelDir(from!), name!), join(model, name!));
    }
    await expect(train(dpoConfig(dir, { use_peft: true, dtype: 'auto', model_name_or_path: model }))).rejects.toThrow(
      /LoRA on bfloat16 weights is not implemented/,
    );
  });
});

describe('model_init_kwargs', () => {
  it('notes the keys that change nothing here, as TRL 1.13 ignores torch_dtype, and trains', async () => {
    const notes = await notesOf(
      dpoConfig(tempDir('keys-init-notes'), {
        model_init_kwargs: {
          torch_dtype: 'bfloat16',
          revision: 'main',
          trust_remote_code: true,
          attn_implementation: 'sdpa',
          low_cpu_mem_usage: true,
          device_map: 'auto',
          use_cache: false,
        },
      }),
    );
    for (const key of [
      'torch_dtype',
      'trust_remote_code',
      'attn_implementation',
      'low_cpu_mem_usage',
      'device_map',
      'use_cache',
    ]) {
      expect(
        notes.filter((n) => n.includes(`model_init_kwargs.${key} has no effect`)),
        key,
      ).toHaveLength(1);
    }
    expect(notes.some((n) => n.includes('model_init_kwargs.revision'))).toBe(false);
  });

  it('refuses quantization_config and keys it does not read, naming them', async () => {
    const dir = tempDir('keys-init-refused');
    await expect(
      train(dpoConfig(dir, { model_init_kwargs: { quantization_config: { load_in_4bit: true } } })),
    ).rejects.toThrow(/model_init_kwargs.quantization_config: quantized \(bitsandbytes\) training is not implemented/);
    await expect(train(dpoConfig(dir, { model_init_kwargs: { rope_scaling: { factor: 2 } } }))).rejects.toThrow(
      /model_init_kwargs.rope_scaling is not supported by alignkit \(it reads dtype, revision/,
    );
  });
});

describe('gradient_checkpointing_kwargs', () => {
  it("notes use_reentrant (the recipes' key), accepts every_n_layers 1 and offload false", async () => {
    const notes = await notesOf(
      dpoConfig(tempDir('keys-gc'), {
        gradient_checkpointing: true,
        gradient_checkpointing_kwargs: { use_reentrant: false, every_n_layers: 1, offload: false },
      }),
    );
    expect(notes.filter((n) => /gradient_checkpointing_kwargs.use_reentrant has no effect/.test(n))).toHaveLength(1);
  });

  // every_n_layers other than 1: test/train/checkpointing-keys.test.ts.
  it('refuses offloading, and keys it does not read', async () => {
    const dir = tempDir('keys-gc-refused');
    const run = (kwargs: Record<string, unknown>) =>
      train(dpoConfig(dir, { gradient_checkpointing: true, gradient_checkpointing_kwargs: kwargs }));
    await expect(run({ offload: true })).rejects.toThrow(
      /offload: offloading the saved activations to host memory is not implemented/,
    );
    await expect(run({ preserve_rng_state: false })).rejects.toThrow(/preserve_rng_state/);
    await expect(run({ determinism_check: 'none' })).rejects.toThrow(/determinism_check is not supported by alignkit/);
  });

  it('without gradient_checkpointing they change nothing, as in transformers: a note', async () => {
    const notes = await notesOf(
      dpoConfig(tempDir('keys-gc-off'), { gradient_checkpointing_kwargs: { every_n_layers: 2 } }),
    );
    expect(
      notes.filter((n) => /gradient_checkpointing_kwargs has no effect without gradient_checkpointing/.test(n)),
    ).toHaveLength(1);
  });
});

describe('ModelConfig and model keys every trainer accepts', () => {
  const keys = {
    model_revision: 'main',
    dtype: 'float32',
    torch_dtype: null,
    attn_implementation: 'flash_attention_2',
    trust_remote_code: true,
    use_peft: false,
    lora_r: 16,
    lora_alpha: 32,
    lora_dropout: 0.05,
    lora_target_modules: null,
    lora_target_parameters: null,
    lora_modules_to_save: null,
    lora_task_type: 'CAUSAL_LM',
    use_rslora: false,
    use_dora: false,
    load_in_8bit: false,
    load_in_4bit: false,
    bnb_4bit_quant_type: 'nf4',
    use_bnb_nested_quant: false,
    bnb_4bit_quant_storage: null,
    model_init_kwargs: null,
    gradient_checkpointing_kwargs: { use_reentrant: false },
    activation_offloading: false,
    use_liger_kernel: true,
    liger_kernel_config: null,
  };
  it.each(['dpo', 'sft', 'kto', 'online_dpo'])('%s', (trainer) => {
    expect(() => resolveConfig({ trainer, ...keys })).not.toThrow();
  });

  // At config load a refused key set away from its default is an error; a key without effect is one note (config-notes.ts).
  const refusedValues = {
    load_in_4bit: true,
    load_in_8bit: true,
    use_dora: true,
    lora_target_parameters: ['experts'],
    lora_modules_to_save: ['lm_head'],
    lora_task_type: 'SEQ_CLS',
    activation_offloading: true,
  };
  const noEffectValues = {
    attn_implementation: 'flash_attention_2',
    trust_remote_code: true,
    use_liger_kernel: true,
    liger_kernel_config: { rope: false },
    bnb_4bit_quant_type: 'fp4',
    use_bnb_nested_quant: true,
    bnb_4bit_quant_storage: 'bfloat16',
  };
  it.each(Object.entries(refusedValues))('refuses %s with the reason', (key, value) => {
    for (const trainer of ['dpo', 'sft', 'kto']) {
      expect(() => resolveConfig({ trainer, [key]: value })).toThrow(
        new RegExp(`${key}: .* is not supported: .*not implemented`),
      );
    }
  });
  it.each(Object.entries(noEffectValues))('notes %s once: no effect, and why', (key, value) => {
    for (const [trainer, schema] of [
      ['dpo', dpoSchema],
      ['sft', sftSchema],
      ['kto', ktoSchema],
    ] as const) {
      const notes = configNotes(resolveConfig({ trainer, [key]: value }), schema);
      expect(notes.filter((n) => n.includes(`${key}:`))).toHaveLength(1);
    }
  });
  it('says why trust_remote_code and use_liger_kernel change nothing', () => {
    const notes = configNotes(
      resolveConfig({ trainer: 'dpo', trust_remote_code: true, use_liger_kernel: true }),
      dpoSchema,
    );
    expect(notes.join('\n')).toMatch(/trust_remote_code: true has no effect in alignkit: no remote code ever runs/);
    expect(notes.join('\n')).toMatch(
      /use_liger_kernel: true has no effect in alignkit: .*fused lm_head \+ log-softmax kernel .* is always on/,
    );
  });

  it('trust_remote_code changes nothing: a model_type alignkit does not build is refused when it loads', async () => {
    const dir = tempDir('keys-remote-code');
    const config = JSON.parse(readFileSync(join(modelDir('llama'), 'config.json'), 'utf8'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...config, model_type: 'custom_remote', auto_map: { AutoModelForCausalLM: 'modeling.Custom' } }),
    );
    copyFileSync(join(modelDir('llama'), 'model.safetensors'), join(dir, 'model.safetensors'));
    await expect(
      loadTrainingModel(resolveConfig({ trainer: 'dpo', use_cpu: true, trust_remote_code: true }), dir),
    ).rejects.toThrow(/unsupported model_type 'custom_remote'/);
  });
});

describe('padding_free for DPO', () => {
  it('TRL 1.13 warns and trains with padding: a note, and the padded run', async () => {
    const padded = await train(dpoConfig(tempDir('keys-padded')), { log: () => {} });
    const notes: string[] = [];
    const free = await train(dpoConfig(tempDir('keys-padding-free'), { padding_free: true }), {
      log: (m) => notes.push(m),
    });
    expect(notes.filter((n) => /padding_free is disabled in TRL 1.13 too/.test(n))).toHaveLength(1);
    const step = (entries: typeof padded.logHistory) => entries.filter((e) => 'loss' in e);
    expect(step(free.logHistory)).toEqual(step(padded.logHistory));
  });
});

describe('save_only_model', () => {
  it('checkpoints hold the model and trainer state only, and resuming from one is refused with the reason', async () => {
    const dir = tempDir('keys-save-only');
    const config = dpoConfig(dir, {
      max_steps: 2,
      save_strategy: 'steps',
      save_steps: 1,
      save_only_model: true,
      sync_ref_model: true,
      ref_model_sync_steps: 1,
    });
    await train(config, { log: () => {} });
    const checkpoint = join(dir, 'out', 'checkpoint-1');
    expect(readdirSync(checkpoint).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'trainer_state.json',
    ]);
    for (const resume of [checkpoint, true]) {
      await expect(
        train({ ...config, max_steps: 3, resume_from_checkpoint: resume }, { log: () => {} }),
      ).rejects.toThrow(
        /holds the model only \(saved with save_only_model: no optimizer.safetensors or RNG state\), so training cannot continue/,
      );
    }
  });
});

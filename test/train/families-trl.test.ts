// train() on each model family's fixture (scripts/fixtures/make_families.py: Granite, OLMo 2, SmolLM3, Gemma 2,
// Gemma 3, Phi-3 with partial rotary, Phi-3 with longrope) against TRL 1.13's DPOTrainer.train() and
// SFTTrainer.train() on the same folder: every logged value of 3 steps, relative 1e-4 at step 1 and 1e-3 after, as
// the llama parity tests (dpo-train.test.ts, sft-train.test.ts) hold them. The settings are theirs (fp32, no
// gradient checkpointing, learning rate 1e-3, full batches of the 8 pairs / 8 prompt-completion rows); recorded by
// scripts/fixtures/make_trl_families_train.py. llama is the control family: it runs the same harness on a model
// alignkit has always supported. gemma2's TRL run used model_init_kwargs.attn_implementation = eager (transformers'
// default sdpa drops Gemma 2's attention soft-cap); the case passes it on, and alignkit notes it has no effect.
// granite's SFT case sets loss_type nll: TRL's default chunked_nll drops Granite's logits_scaling (it reads only
// logit_scale / output_multiplier), while nll is the model's own loss, which divides the logits by it. Its second SFT
// case keeps TRL's default: alignkit trains as TRL does there (unscaled) and prints a note saying so.
// mixtral and qwen3_moe train with router_aux_loss_coef 0.02: the router's load-balancing loss joins the loss (and
// its gradient) and is logged as aux_loss, as TRL adds it; they also have a KTO run (with gradient checkpointing).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import type { DpoConfig, KtoConfig, SftConfig } from '../../src/types/config-types.js';

// The families alignkit implements natively (trimmed to what native/models supports).
const FAMILIES = [
  'llama',
  'granite',
  'olmo2',
  'smollm3',
  'gemma2',
  'gemma3_text',
  'phi3',
  'phi3-longrope',
  'mixtral',
  'qwen3_moe',
];

interface Run {
  config: Record<string, unknown>;
  log_history: LogEntry[];
}
const recorded = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'families-train.json'), 'utf8')) as {
  dpo_data: string;
  kto_data: string;
  sft_rows: Record<string, unknown>[];
  families: Record<string, { dpo: Run; sft: Run; kto?: Run; sft_default_loss?: Run; dpo_lora?: Run }>;
};

const common = {
  bf16: false,
  gradient_checkpointing: false,
  save_strategy: 'no',
  use_cpu: true,
} as const;

function dpoConfig(family: string, run: Run, dir: string): DpoConfig {
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir(family),
    train_dataset: join(fixturesDir, 'trl', recorded.dpo_data),
    output_dir: dir,
    ...common,
    // TRL recorded its default (false); unwritten, alignkit precomputes when the data is reused (auto-precompute.ts).
    precompute_ref_log_probs: false,
    ...run.config,
  } as DpoConfig;
}

function sftConfig(family: string, run: Run, dir: string): SftConfig {
  const data = join(dir, 'rows.jsonl');
  writeFileSync(data, recorded.sft_rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  return {
    trainer: 'sft',
    model_name_or_path: modelDir(family),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...common,
    ...run.config,
  } as SftConfig;
}

function ktoConfig(family: string, run: Run, dir: string): KtoConfig {
  return {
    trainer: 'kto',
    model_name_or_path: modelDir(family),
    train_dataset: join(fixturesDir, 'trl', recorded.kto_data),
    output_dir: dir,
    ...common,
    precompute_ref_log_probs: false,
    ...run.config,
  } as KtoConfig;
}

function expectStepsClose(logHistory: LogEntry[], run: Run) {
  const logs = logHistory.slice(0, -1); // the last entry is the end-of-training summary
  expect(logHistory.at(-1)).toHaveProperty('train_loss');
  expect(logs.length).toBe(run.log_history.length);
  logs.forEach((entry, i) => expectLogEntryClose(entry, run.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
}

describe('every listed family has TRL references', () => {
  it('families-train.json covers the list', () => {
    for (const family of FAMILIES) {
      expect(recorded.families[family], family).toBeDefined();
      expect(recorded.families[family]!.dpo.log_history).toHaveLength(3);
      expect(recorded.families[family]!.sft.log_history).toHaveLength(3);
    }
  });
});

describe.each(FAMILIES)('%s matches TRL', (family) => {
  const runs = recorded.families[family]!;

  it('DPO, 3 steps', async () => {
    const dir = tempDir(`families-dpo-${family}`);
    const { logHistory, globalStep } = await train(dpoConfig(family, runs.dpo, dir), { log: () => {} });
    expect(globalStep).toBe(3);
    expectStepsClose(logHistory, runs.dpo);
  });

  it('SFT (prompt/completion, completion_only_loss), 3 steps', async () => {
    const dir = tempDir(`families-sft-${family}`);
    const { logHistory, globalStep } = await train(sftConfig(family, runs.sft, dir), { log: () => {} });
    expect(globalStep).toBe(3);
    expectStepsClose(logHistory, runs.sft);
  });
});

describe("granite SFT with TRL's default loss (chunked_nll)", () => {
  it('trains on the unscaled logits as TRL does, and says so', async () => {
    const run = recorded.families.granite!.sft_default_loss!;
    const dir = tempDir('families-sft-granite-default-loss');
    const notes: string[] = [];
    const { logHistory } = await train(sftConfig('granite', run, dir), { log: (m) => notes.push(m) });
    expectStepsClose(logHistory, run);
    expect(notes.filter((m) => m.includes("without Granite's logits_scaling"))).toHaveLength(1);
  });
});

// The MoE families' KTO run (router aux loss, gradient checkpointing: the router logits leave each recomputed layer).
describe.each(['mixtral', 'qwen3_moe'])('%s KTO matches TRL', (family) => {
  it('KTO with gradient checkpointing and the router aux loss, 3 steps', async () => {
    const run = recorded.families[family]!.kto!;
    expect(run.config.gradient_checkpointing).toBe(true);
    const dir = tempDir(`families-kto-${family}`);
    const { logHistory, globalStep } = await train(ktoConfig(family, run, dir), { log: () => {} });
    expect(globalStep).toBe(3);
    expectStepsClose(logHistory, run);
  });
});

// The MoE families' DPO with PEFT 0.21's all-linear LoRA: the attention, the router and the fused experts
// (target_parameters), the reference being the policy with its adapters off.
describe.each(['mixtral', 'qwen3_moe'])('%s DPO with all-linear LoRA matches TRL + PEFT', (family) => {
  it('trains the experts as PEFT does, 3 steps', async () => {
    const run = recorded.families[family]!.dpo_lora!;
    expect(run.config.lora_target_modules).toEqual(['all-linear']);
    const dir = tempDir(`families-dpo-lora-${family}`);
    const { logHistory, globalStep } = await train(dpoConfig(family, run, dir), { log: () => {} });
    expect(globalStep).toBe(3);
    expectStepsClose(logHistory, run);
  });
});

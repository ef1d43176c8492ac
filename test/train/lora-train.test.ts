// LoRA train() against TRL 1.13's DPOTrainer and SFTTrainer with PEFT 0.21 on the llama fixture (scripts/fixtures/
// make_trl_lora_train.py). DPO: fresh adapters (use_peft, the reference = the policy with adapters off), all-linear rsLoRA
// with precomputed reference log-probs and evaluation, and a PEFT adapter folder as the starting point (the
// reference = that adapter, frozen). Every logged value of every step, relative 1e-4 at step 1 and 1e-3 through
// step 5; SFT with fresh all-linear adapters, likewise. Then checkpoints: they hold the adapter and its optimizer state, and resuming continues exactly.
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { DpoConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  adapter: string | null;
  total_flos: number;
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-lora.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): DpoConfig {
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8'));
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir(c.adapter ?? 'llama'),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...c.config,
  } as DpoConfig;
}

function expectLogsClose(c: Case, logHistory: LogEntry[]) {
  const logs = logHistory.slice(0, -1);
  expect(logs.length).toBe(c.log_history.length);
  logs.forEach((entry, i) => {
    const expected = c.log_history[i]!;
    const rel = entry.step === 1 ? 1e-4 : 1e-3;
    expect(Object.keys(entry).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, want] of Object.entries(expected)) {
      const got = entry[key]!;
      expect(Math.abs(got - want), `step ${expected.step} ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(
        Math.max(rel * Math.abs(want), 1e-6),
      );
    }
  });
}

describe('LoRA-DPO matches TRL + PEFT', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`dpo-lora-${c.name}`);
    const { logHistory, globalStep } = await train(configFor(c, dir), { log: () => {} });
    expect(globalStep).toBe(5);
    expectLogsClose(c, logHistory);
    // HF's 6 × tokens × parameters counts the adapters; from an adapter folder TRL's model also holds the frozen
    // "ref" adapter copy, which our separate reference model keeps out of the count.
    if (!c.adapter) expect(logHistory.at(-1)!.total_flos).toBe(c.total_flos);
    // The output is the adapter, as TRL saves a PeftModel, with the tokenizer beside it.
    expect(existsSync(join(dir, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    // disable_dropout turns dropout off in training; the adapter's config keeps lora_dropout, as TRL's saved one does.
    const saved = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    if (c.config.use_peft) expect(saved.lora_dropout).toBe(c.config.lora_dropout);
  });
});

describe('disable_dropout', () => {
  it("zeroes a starting adapter's lora_dropout, as TRL's disable_dropout_in_model does", async () => {
    const c = cases.find((x) => x.name === 'adapter_start')!;
    const adapter = tempDir('dpo-lora-dropout-adapter');
    for (const name of readdirSync(modelDir('llama-lora')))
      copyFileSync(join(modelDir('llama-lora'), name), join(adapter, name));
    const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(
      join(adapter, 'adapter_config.json'),
      JSON.stringify({ ...config, lora_dropout: 0.3, base_model_name_or_path: modelDir('llama') }),
    );
    const dir = tempDir('dpo-lora-dropout');
    const { logHistory } = await train({ ...configFor(c, dir), model_name_or_path: adapter }, { log: () => {} });
    expectLogsClose(c, logHistory);
  });
});

describe('LoRA-SFT matches TRL + PEFT', () => {
  const sft = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-lora.json'), 'utf8')) as {
    cases: (Case & { rows: object[] })[];
  };
  it.each(sft.cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`sft-lora-${c.name}`);
    const data = join(dir, 'rows.jsonl');
    writeFileSync(data, c.rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const { logHistory } = await train(
      {
        trainer: 'sft',
        model_name_or_path: modelDir('llama'),
        train_dataset: data,
        output_dir: dir,
        bf16: false,
        gradient_checkpointing: false,
        save_strategy: 'no',
        ...c.config,
      },
      { log: () => {} },
    );
    expectLogsClose(c, logHistory);
    expect(logHistory.at(-1)!.total_flos).toBe(c.total_flos);
    expect(existsSync(join(dir, 'adapter_model.safetensors'))).toBe(true);
  });
});

describe('LoRA checkpoints', () => {
  it('hold the adapter and its optimizer state; resuming from checkpoint-2 gives the uninterrupted run', async () => {
    const c = cases.find((x) => x.name === 'lora')!;
    const uninterrupted = await train(configFor(c, tempDir('dpo-lora-full')), { log: () => {} });

    const first = tempDir('dpo-lora-first');
    const controller = new AbortController();
    const stoppedRun = await train(
      { ...configFor(c, first), save_strategy: 'steps', save_steps: 100 },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 2) controller.abort();
        },
      },
    );
    const checkpoint = join(first, 'checkpoint-2');
    expect(stoppedRun.checkpoint).toBe(checkpoint);
    expect(readdirSync(checkpoint).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'generation_config.json',
      'optimizer.safetensors',
      'rng_state.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'trainer_state.json',
    ]);
    const optimizer = readFileSync(join(checkpoint, 'optimizer.safetensors'));
    const header = JSON.parse(optimizer.subarray(8, 8 + Number(optimizer.readBigUInt64LE(0))).toString()) as Record<
      string,
      unknown
    >;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names.length).toBe(2 * 2 * 2 * 3); // 2 layers × q/v × A/B × (exp_avg, exp_avg_sq, step)
    expect(names.every((n) => /\.lora_[AB]\.weight\./.test(n))).toBe(true);

    const resumed = await train({ ...configFor(c, first), resume_from_checkpoint: checkpoint }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });

  it('refuses use_peft on an adapter folder and sync_ref_model with LoRA', async () => {
    const c = cases.find((x) => x.name === 'lora')!;
    await expect(
      train(
        { ...configFor(c, tempDir('dpo-lora-bad')), model_name_or_path: modelDir('llama-lora') },
        { log: () => {} },
      ),
    ).rejects.toThrow(/use_peft: model_name_or_path .* is already a PEFT adapter/);
    await expect(
      train({ ...configFor(c, tempDir('dpo-lora-sync')), sync_ref_model: true }, { log: () => {} }),
    ).rejects.toThrow(/sync_ref_model is not compatible with PEFT/);
  });
});

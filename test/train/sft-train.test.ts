// train() with trainer: sft against TRL 1.13's SFTTrainer.train() on the llama fixture: every logged value of
// every step (loss, grad_norm, learning_rate, epoch, entropy, mean_token_accuracy, num_tokens, eval_*), relative
// 1e-4 at step 1 and 1e-3 through step 5. Recorded by scripts/fixtures/make_trl_sft_train.py: messages (with and
// without assistant_only_loss), prompt/completion with completion_only_loss (with evaluation, and with gradient
// accumulation normalised by num_items_in_batch), packing (padding-free rows, attention within each sequence),
// padding_free without packing, text under a custom dataset_text_field, loss_type dft, and bf16 autocast with gradient
// checkpointing. Measured: fp32 cases ≤ 3.2e-7 at every step except padding_free's 4.5e-5 at step 4; bf16 3.2e-6
// at step 1 (grad_norm), ≤ 1.4e-7 after. Then resuming, and the SFT output folder (and its checkpoints) as a
// model_name_or_path for trainer: dpo (the sft.yaml → dpo.yaml pipeline).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { SftConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  rows: Record<string, unknown>[];
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-train.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): SftConfig {
  const data = join(dir, 'rows.jsonl');
  writeFileSync(data, c.rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  const template = c.config.chat_template_path as string | undefined;
  return {
    trainer: 'sft',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...c.config,
    ...(template ? { chat_template_path: join(fixturesDir, 'trl', template) } : {}),
  } as SftConfig;
}

describe('SFT training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`sft-${c.name}`);
    const { logHistory, globalStep } = await train(configFor(c, dir), { log: () => {} });
    expect(globalStep).toBe(5);
    const logs = logHistory.slice(0, -1);
    expect(logHistory.at(-1)).toHaveProperty('train_loss');
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
    expect(existsSync(join(dir, 'out', 'model.safetensors'))).toBe(true);
  });
});

describe('sft → dpo pipeline, checkpoints, options', () => {
  it('the SFT output folder, with its chat template, trains with trainer: dpo', async () => {
    const c = cases.find((x) => x.name === 'messages')!;
    const dir = tempDir('sft-pipeline');
    const sftConfig = configFor(c, dir);
    await train(
      { ...sftConfig, max_steps: 2, save_strategy: 'steps', save_steps: 1, eos_token: '<pad>' },
      { log: () => {} },
    );
    const sftDir = sftConfig.output_dir as string;
    // The final folder and each checkpoint carry the template and eos_token SFT used.
    for (const folder of [sftDir, join(sftDir, 'checkpoint-1')]) {
      expect(readFileSync(join(folder, 'chat_template.jinja'), 'utf8')).toBe(
        readFileSync(join(fixturesDir, 'trl', 'sft-train-chatml.jinja'), 'utf8'),
      );
      expect(JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')).eos_token).toBe('<pad>');
    }

    // Conversational pairs need the chat template, which only the SFT folder has.
    const pairs = join(dir, 'pairs.jsonl');
    writeFileSync(
      pairs,
      [
        {
          prompt: [{ role: 'user', content: 'The sky is' }],
          chosen: [{ role: 'assistant', content: 'blue.' }],
          rejected: [{ role: 'assistant', content: 'green.' }],
        },
        {
          prompt: [{ role: 'user', content: 'Ice is' }],
          chosen: [{ role: 'assistant', content: 'cold.' }],
          rejected: [{ role: 'assistant', content: 'hot.' }],
        },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n') + '\n',
    );
    const dpo = await train(
      {
        trainer: 'dpo',
        model_name_or_path: sftDir,
        train_dataset: pairs,
        output_dir: join(dir, 'dpo'),
        max_steps: 2,
        bf16: false,
        gradient_checkpointing: false,
        save_strategy: 'no',
        use_cpu: true,
        logging_steps: 1,
        per_device_train_batch_size: 2,
      },
      { log: () => {} },
    );
    expect(dpo.globalStep).toBe(2);
    // policy = reference at step 1: the DPO loss is log 2, whatever the SFT weights are.
    expect(dpo.logHistory[0]!.loss).toBeCloseTo(Math.log(2), 6);
    expect(existsSync(join(dir, 'dpo', 'model.safetensors'))).toBe(true);
  });

  it('resuming from checkpoint-2 gives the uninterrupted run (accumulation: num_items_in_batch per step)', async () => {
    const c = cases.find((x) => x.name === 'prompt_completion_accumulation')!;
    const uninterrupted = await train(configFor(c, tempDir('sft-full')), { log: () => {} });
    const first = configFor(c, tempDir('sft-first'));
    const controller = new AbortController();
    const stoppedRun = await train(
      { ...first, save_strategy: 'steps', save_steps: 100 },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 2) controller.abort();
        },
      },
    );
    expect(stoppedRun.checkpoint).toBe(join(first.output_dir as string, 'checkpoint-2'));
    const resumed = await train({ ...first, resume_from_checkpoint: true }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });
});

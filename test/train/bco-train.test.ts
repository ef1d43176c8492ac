// train() with trainer: bco against TRL 1.13's experimental BCOTrainer.train() on the llama fixture: every logged value
// of every step (loss, grad_norm, learning_rate, epoch, delta, rewards/, logps/, logits/ and the eval_ forms),
// relative 1e-4 at step 1 and 1e-3 through step 5. Recorded by scripts/fixtures/make_trl_bco_train.py: the default
// over two epochs (δ carries on), gradient accumulation (the window pools its micro-batches' sums), preference
// pairs unpaired as TRL does with an eval set (evaluation reads δ without updating it), BCO's own max_length
// truncation, precomputed reference log-probs, LoRA (the reference is the policy with its adapters off) and
// conversational rows (rendered by the chat template before BCO's tokenization); and
// the running moments TRL saves beside checkpoint-3.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { BcoConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  data: string;
  /** A Jinja file beside the data: the tokenizer's chat template for conversational rows. */
  chat_template?: string;
  log_history: LogEntry[];
}
const fixture = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'bco-train.json'), 'utf8')) as {
  cases: Case[];
  running_step_3: Record<string, number>;
};
const { cases } = fixture;

function configFor(c: Case, dir: string): BcoConfig {
  const data = join(fixturesDir, 'trl', c.data);
  return {
    trainer: 'bco',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...(c.chat_template ? { chat_template: join(fixturesDir, 'trl', c.chat_template) } : {}),
    ...c.config,
  } as BcoConfig;
}

describe('BCO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const { logHistory, globalStep } = await train(configFor(c, tempDir(`bco-${c.name}`)), { log: () => {} });
    expect(globalStep).toBe(5);
    const logs = logHistory.slice(0, -1);
    expect(logHistory.at(-1)).toHaveProperty('train_loss');
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
  });
});

describe('the running reward moments', () => {
  it("checkpoint-3 holds TRL's running.json, and resuming from it continues exactly", async () => {
    const c = cases.find((x) => x.name === 'bco')!;
    const uninterrupted = await train(configFor(c, tempDir('bco-full')), { log: () => {} });
    const first = tempDir('bco-first');
    const controller = new AbortController();
    const stopped = await train(
      { ...configFor(c, first), save_strategy: 'steps', save_steps: 100 },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 3 && 'loss' in entry) controller.abort();
        },
      },
    );
    expect(stopped.checkpoint).toBe(join(first, 'checkpoint-3'));
    const running = JSON.parse(readFileSync(join(first, 'checkpoint-3', 'running.json'), 'utf8'));
    expect(Object.keys(running)).toEqual(['count', 'mean', 'std', 'var']);
    for (const [key, want] of Object.entries(fixture.running_step_3))
      expect(Math.abs(running[key] - want), key).toBeLessThanOrEqual(1e-4 * Math.abs(want) + 1e-7);
    const resumed = await train(
      { ...configFor(c, first), resume_from_checkpoint: stopped.checkpoint },
      { log: () => {} },
    );
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });
});

describe('BCOConfig keys', () => {
  it('refuses a beta that learns nothing when the config loads, from the native catalogue', async () => {
    await expect(train({ ...configFor(cases[0]!, tempDir('bco-beta')), beta: 0 })).rejects.toThrow(
      /'beta' must be above 0 for BCO, got 0/,
    );
  });

  it("refuses a Mixture-of-Experts model, whose router loss TRL's BCOTrainer adds", async () => {
    await expect(
      train({ ...configFor(cases[0]!, tempDir('bco-moe')), model_name_or_path: modelDir('mixtral') }),
    ).rejects.toThrow(/trainer: bco on a Mixture-of-Experts model \(mixtral\) is not supported/);
  });

  it("refuses UDM's keys, naming the Python-only dependencies", async () => {
    const c = cases[0]!;
    for (const key of ['prompt_sample_size', 'min_density_ratio', 'max_density_ratio'])
      await expect(train({ ...configFor(c, tempDir('bco-udm')), [key]: 7 })).rejects.toThrow(
        new RegExp(`${key}: 7 is not supported: .*scikit-learn's LogisticRegression.*embedding_func`),
      );
  });
});

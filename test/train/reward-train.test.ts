// train() with trainer: reward against TRL 1.13's RewardTrainer.train() on the llama fixture as a
// LlamaForSequenceClassification: every logged value of every step (loss, grad_norm, learning_rate, epoch,
// min_reward, mean_reward, max_reward, accuracy, margin, num_tokens, eval_*), relative 1e-4 at step 1 and 1e-3
// through step 4 (floor 1e-6 absolute). Recorded by scripts/fixtures/make_trl_reward_train.py: the default loss, a
// margin column, center_rewards_coefficient with an eval set, gradient accumulation, max_length filtering with
// pad_to_multiple_of, bf16 autocast with gradient checkpointing (TRL's CPU default), conversations with an implicit
// prompt (chat_template_path), LoRA (PEFT's SEQ_CLS task: the score head trains whole beside the adapters), and a fresh score
// head on the causal LM folder (the same draws as transformers'). Then the saved folder (or LoRA adapter): the layout
// TRL's save_model writes and the trained model's scores.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model.js';
import { rewardScores } from '../../src/eval/reward-model.js';
import { readSafetensors } from '../../src/safetensors.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { SCORE_HEAD_INIT_DIR } from '../../src/train/score-head.js';
import type { RewardConfig } from '../../src/types/config-types.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  model: string;
  data: string;
  log_history: LogEntry[];
  initial_score?: number[];
  saved?: { config: Record<string, unknown>; tensors: Record<string, number[]> };
  probe_scores?: number[];
}
const fixture = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'reward-train.json'), 'utf8')) as {
  probes: string[];
  cases: Case[];
};
const { cases } = fixture;
const byName = (name: string) => cases.find((c) => c.name === name)!;
const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

function configFor(c: Case, dir: string): RewardConfig {
  const data = join(fixturesDir, 'trl', c.data);
  return {
    trainer: 'reward',
    model_name_or_path: modelDir(c.model),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...c.config,
    ...(c.config.chat_template_path
      ? { chat_template_path: join(fixturesDir, 'trl', c.config.chat_template_path as string) }
      : {}),
  } as RewardConfig;
}

describe('reward-model training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const { logHistory, globalStep } = await train(configFor(c, tempDir(`reward-${c.name}`)), { log: () => {} });
    expect(globalStep).toBe(4);
    const logs = logHistory.slice(0, -1);
    expect(logHistory.at(-1)).toHaveProperty('train_loss');
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
  });
});

describe('the saved reward model', () => {
  it('is the *ForSequenceClassification folder TRL saves, with the trained model scores', async () => {
    const c = byName('default');
    const dir = tempDir('reward-saved');
    await train(configFor(c, dir), { log: () => {} });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    for (const [key, value] of Object.entries(c.saved!.config)) expect(config[key], key).toEqual(value);
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    expect(Object.fromEntries([...tensors].map(([name, t]) => [name, t.shape]))).toEqual(c.saved!.tensors);
    // Scored as transformers scores a right-padded batch (the last non-pad token), by alignkit eval's judge.
    const model = await loadModel(dir);
    const tokenizer = await Tokenizer.load(dir);
    const scores = await rewardScores(
      model,
      tokenizer,
      fixture.probes.map(() => ''),
      fixture.probes,
    );
    scores.forEach((s, i) => expect(Math.abs(s - c.probe_scores![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(s))));
    await model.dispose();
  });

  it('with LoRA: the PEFT SEQ_CLS adapter TRL saves (the score head whole), which loads back with the trained scores', async () => {
    const c = byName('lora');
    const dir = tempDir('reward-lora-saved');
    await train(configFor(c, dir), { log: () => {} });
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    for (const [key, value] of Object.entries(c.saved!.config)) expect(config[key], key).toEqual(value);
    const { tensors } = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(Object.fromEntries([...tensors].map(([name, t]) => [name, t.shape]))).toEqual(c.saved!.tensors);
    const model = await loadModel(modelDir('llama-reward'));
    await model.loadAdapter(dir);
    const scores = await rewardScores(
      model,
      await Tokenizer.load(dir),
      fixture.probes.map(() => ''),
      fixture.probes,
    );
    scores.forEach((s, i) => expect(Math.abs(s - c.probe_scores![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(s))));
    await model.dispose();
    // A causal LM has no score head for it.
    const causal = await loadModel(modelDir('llama'));
    await expect(causal.loadAdapter(dir)).rejects.toThrow(/modules_to_save \["classifier","score"\] is not supported/);
    await causal.dispose();
  });

  it('a causal LM gets the score head transformers draws after set_seed(seed)', async () => {
    const c = byName('fresh_head');
    const dir = tempDir('reward-fresh');
    await train({ ...configFor(c, dir), max_steps: 1 }, { log: () => {} });
    const { tensors } = await readSafetensors(join(dir, SCORE_HEAD_INIT_DIR, 'model.safetensors'));
    expect(tensors.has('lm_head.weight')).toBe(false);
    const score = tensors.get('score.weight')!;
    expect(score.shape).toEqual([1, 64]);
    expect(Array.from(score.data as Float32Array)).toEqual(c.initial_score!.map(Math.fround));
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(saved.architectures).toEqual(['LlamaForSequenceClassification']);
    expect(saved.pad_token_id).toBe(2);
  });
});

describe('the command line and the config', () => {
  it('alignkit reward recipe.yaml trains a reward model', () => {
    const dir = tempDir('reward-cli');
    const recipe = join(dir, 'recipe.yaml');
    writeFileSync(
      recipe,
      [
        `model_name_or_path: ${modelDir('llama-reward')}`,
        `train_dataset: ${join(fixturesDir, 'trl', 'reward-margin.jsonl')}`,
        `output_dir: ${join(dir, 'out')}`,
        'max_steps: 2',
        'logging_steps: 1',
        'per_device_train_batch_size: 2',
        'bf16: false',
        'use_cpu: true',
        'save_strategy: "no"',
      ].join('\n') + '\n',
    );
    const job = spawnSync(process.execPath, [cli, 'reward', recipe], { encoding: 'utf8', timeout: 120_000 });
    expect(job.status, job.stderr).toBe(0);
    const logs = readFileSync(join(dir, 'out', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(logs[0]!)).toHaveProperty('accuracy');
    expect(JSON.parse(readFileSync(join(dir, 'out', 'config.json'), 'utf8')).architectures).toEqual([
      'LlamaForSequenceClassification',
    ]);
  });

  it('resuming from checkpoint-2 continues exactly (a fresh head and LoRA alike)', async () => {
    for (const name of ['fresh_head', 'lora']) {
      const c = byName(name);
      const uninterrupted = await train(configFor(c, tempDir(`reward-${name}-full`)), { log: () => {} });
      const first = tempDir(`reward-${name}-first`);
      const controller = new AbortController();
      const stopped = await train(
        { ...configFor(c, first), save_strategy: 'steps', save_steps: 100 },
        {
          signal: controller.signal,
          log: () => {},
          onLog: (entry) => {
            if (entry.step === 2 && 'loss' in entry) controller.abort();
          },
        },
      );
      expect(stopped.checkpoint).toBe(join(first, 'checkpoint-2'));
      const resumed = await train(
        { ...configFor(c, first), resume_from_checkpoint: stopped.checkpoint },
        { log: () => {} },
      );
      expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
    }
  });

  it('refuses what it does not implement, naming the key', async () => {
    const c = byName('default');
    await expect(train({ ...configFor(c, tempDir('reward-peft')), use_peft: true }, { log: () => {} })).rejects.toThrow(
      /lora_task_type: 'CAUSAL_LM' with trainer: reward and use_peft is not implemented/,
    );
    await expect(
      train({ ...configFor(c, tempDir('reward-mpl')), max_prompt_length: 8 }, { log: () => {} }),
    ).rejects.toThrow(/RewardConfig has no max_prompt_length/);
    await expect(
      train({ ...configFor(c, tempDir('reward-eos')), eos_token: '<nope>' }, { log: () => {} }),
    ).rejects.toThrow(/eos_token '<nope>' is not in the tokenizer's vocabulary/);
    await expect(
      train({ ...configFor(c, tempDir('reward-causal')), trainer: 'dpo' } as never, { log: () => {} }),
    ).rejects.toThrow(/is a sequence-classification \(reward\) model; training needs a causal LM/);
  });
});

// A LlamaForSequenceClassification reward model loads (score.weight in place of lm_head) and scores prompt +
// completion pairs — text and conversational, right padded in one batch — as transformers does
// (scripts/fixtures/make_reward_model.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rewardScores } from '../../src/eval/reward-model.js';
import type { Prompt } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const fixture = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'reward-scores.json'), 'utf8')) as {
  pairs: { prompt: Prompt; completion: string }[];
  scores: number[];
};

describe('reward model', () => {
  it('scores prompt + completion as transformers’ sequence classifier', async () => {
    const model = await loadModel(modelDir('reward'));
    expect(model.config.numLabels).toBe(1);
    expect(model.parameters().at(-1)).toEqual({ name: 'score.weight', shape: [1, 32] });
    const tokenizer = await Tokenizer.load(modelDir('reward'));
    const scores = await rewardScores(
      model,
      tokenizer,
      fixture.pairs.map((p) => p.prompt),
      fixture.pairs.map((p) => p.completion),
    );
    scores.forEach((s, i) => expect(Math.abs(s - fixture.scores[i]!)).toBeLessThan(1e-5));
  });

  it('refuses a causal LM as a reward model', async () => {
    const model = await loadModel(modelDir('llama'));
    expect(model.config.numLabels).toBe(0);
    await expect(rewardScores(model, await Tokenizer.load(modelDir('llama')), ['a'], ['b'])).rejects.toThrow(
      /not a sequence-classification model/,
    );
  });
});

describe('training a reward model', () => {
  it('is refused: training needs a causal LM', async () => {
    const { train } = await import('../../src/train/train-from-config.js');
    await expect(
      train(
        {
          trainer: 'sft',
          model_name_or_path: modelDir('reward'),
          train_dataset: join(fixturesDir, 'demo', 'data', 'sft.jsonl'),
          output_dir: tempDir('reward-train'),
          use_cpu: true,
        },
        { log: () => {} },
      ),
    ).rejects.toThrow(/sequence-classification \(reward\) model; training needs a causal LM/);
  });
});

describe('generating with a reward model', () => {
  it('is refused: it scores text, it cannot generate it', async () => {
    const model = await loadModel(modelDir('reward'));
    await expect(model.generate('Describe the owl.', { max_new_tokens: 2 })).rejects.toThrow(
      /sequence-classification model; it scores text/,
    );
  });
});

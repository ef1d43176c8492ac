// The incremental forward (KV cache, one token per step) against the full forward: the logits each new token was
// chosen from equal the full forward's logits at that position, for every position of the sequence.
import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { maxAbsDiff, modelDir } from '../helpers/fixtures.js';
import { reference } from './reference.js';

const VOCAB = 256;

/** Generates `prompts` with output_logits and checks each row against the full forward of prompt + its tokens. */
async function expectCachedLogitsMatch(model: Model, prompts: number[][], maxNew: number, tolerance: number) {
  const out = await model.generateTokenIds(prompts, { max_new_tokens: maxNew, eos_token_id: [], output_logits: true });
  for (const [r, prompt] of prompts.entries()) {
    const { tokenIds, logits } = out[r]!;
    expect(tokenIds).toHaveLength(maxNew);
    expect(logits).toHaveLength(maxNew * VOCAB);
    // Step t chose token t from the logits at position prompt.length - 1 + t of the whole sequence.
    const full = await model.logits([[...prompt, ...tokenIds.slice(0, -1)]]);
    const atSteps = full.data.subarray((prompt.length - 1) * VOCAB);
    expect(maxAbsDiff(logits!, atSteps, VOCAB), `row ${r}`).toBeLessThanOrEqual(tolerance);
  }
}

describe.each(['llama', 'llama3-tied', 'mistral', 'qwen2', 'qwen3'])('%s', (name) => {
  it('a one-token prompt: every position comes from the cache', async () => {
    await expectCachedLogitsMatch(await loadModel(modelDir(name)), [[17]], 30, 1e-4);
  });

  it('a left-padded batch: each row as if alone (positions count real tokens)', async () => {
    await expectCachedLogitsMatch(await loadModel(modelDir(name)), reference.greedy[name]![0]!.prompts, 20, 1e-4);
  });
});

it('a long generation: the cache grows past its first 128 new positions and stays exact', async () => {
  const model = await loadModel(modelDir('mistral'));
  await expectCachedLogitsMatch(model, [[17], [4, 9, 33]], 300, 1e-4);
});

it('a bfloat16 model generates in bfloat16 with the cache close to its full forward', async () => {
  const model = await loadModel(modelDir('qwen3'), { dtype: 'bfloat16' });
  expect(model.config.dtype).toBe('bfloat16');
  await expectCachedLogitsMatch(model, reference.greedy.qwen3![0]!.prompts, 8, 0.1);
});

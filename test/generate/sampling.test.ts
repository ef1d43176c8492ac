// Sampling: the warpers (temperature -> top_k -> top_p) against transformers' logits processors on fixed logits,
// and sampled tokens against transformers' generate(do_sample=True) after torch.manual_seed(seed): on the CPU the
// native sampler draws from the same generator stream (libtorch 2.13 = the reference's torch), so they are equal.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { resolveOptions } from '../../src/generate/options.js';
import { native } from '../../src/native.js';
import { modelDir } from '../helpers/fixtures.js';
import { FIXTURE_EOS, reference, untilEos } from './reference.js';

const fromJson = (rows: (number | null)[][]) => Float32Array.from(rows.flat(), (v) => (v === null ? -Infinity : v));

describe('warpers', () => {
  const { logits, cases } = reference.warpers;
  const [batch, vocab] = [logits.length, logits[0]!.length];
  const scores = fromJson(logits);

  it.each(cases.map((c) => [JSON.stringify(c.options), c] as const))('%s equals transformers', (_, c) => {
    // resolveOptions fills in what generate(do_sample=True) defaults (top_k=50)
    const options = resolveOptions({ ...c.options, do_sample: true }, { eos_token_id: [] }, vocab);
    const ours = native().NativeGeneration.warpLogits(scores, batch, vocab, options);
    const expected = fromJson(c.scores);
    for (let i = 0; i < expected.length; i++) {
      if (expected[i] === -Infinity) expect(ours[i], `entry ${i} is filtered`).toBe(-Infinity);
      else expect(Math.abs(ours[i]! - expected[i]!), `entry ${i}`).toBeLessThanOrEqual(1e-5 * Math.abs(expected[i]!));
    }
  });

  it('rejects values transformers refuses, naming the field', () => {
    const warp = (options: { temperature: number; top_k: number; top_p: number }) =>
      native().NativeGeneration.warpLogits(scores, batch, vocab, options);
    expect(() => warp({ temperature: 0, top_k: 0, top_p: 1 })).toThrow(/temperature must be a finite number > 0/);
    expect(() => warp({ temperature: 1, top_k: 0, top_p: 1.5 })).toThrow(/top_p must be in \[0, 1\]/);
    expect(() => warp({ temperature: 1, top_k: 2.5, top_p: 1 })).toThrow(/top_k must be an integer >= 0/);
  });
});

describe.each(reference.sampling.map((c) => [`${c.model} seed ${c.seed}`, c] as const))('sampling %s', (_, c) => {
  const { temperature, top_k, top_p, seed, max_new_tokens } = c;
  const options = { do_sample: true, temperature, top_k, top_p, seed, max_new_tokens };

  it('equals transformers with the same seed, and the same seed gives the same tokens', async () => {
    const model = await loadModel(modelDir(c.model));
    const expected = c.new_tokens.map((row) => untilEos(row, [FIXTURE_EOS]));
    const first = await model.generateTokenIds(c.prompts, options);
    expect(first.map((o) => o.tokenIds)).toEqual(expected);
    const again = await model.generateTokenIds(c.prompts, options);
    expect(again.map((o) => o.tokenIds)).toEqual(expected);
    const other = await model.generateTokenIds(c.prompts, { ...options, seed: seed + 1 });
    expect(other.map((o) => o.tokenIds)).not.toEqual(expected);
  });
});

describe('sampling', () => {
  it('top_k=1 equals greedy whatever the seed and temperature', async () => {
    const c = reference.greedy.mistral![0]!;
    const model = await loadModel(modelDir('mistral'));
    const greedy = await model.generateTokenIds(c.prompts, { max_new_tokens: 16 });
    for (const seed of [0, 1, 2]) {
      const sampled = await model.generateTokenIds(c.prompts, {
        max_new_tokens: 16,
        do_sample: true,
        top_k: 1,
        temperature: 3,
        seed,
      });
      expect(sampled.map((o) => o.tokenIds)).toEqual(greedy.map((o) => o.tokenIds));
    }
  });

  it('a tiny top_p keeps only the most likely token: greedy again', async () => {
    const c = reference.greedy.qwen2![0]!;
    const model = await loadModel(modelDir('qwen2'));
    const greedy = await model.generateTokenIds(c.prompts, { max_new_tokens: 10 });
    const sampled = await model.generateTokenIds(c.prompts, { max_new_tokens: 10, do_sample: true, top_p: 0, seed: 5 });
    expect(sampled.map((o) => o.tokenIds)).toEqual(greedy.map((o) => o.tokenIds));
  });

  it('checks sampling options only when sampling, as transformers', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.generateTokenIds([[5, 6]], { do_sample: true, temperature: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: 'generate: options.temperature must be a number > 0, got 0',
    });
    await expect(model.generateTokenIds([[5, 6]], { do_sample: true, top_p: 2 })).rejects.toThrow(
      'options.top_p must be a number in [0, 1], got 2',
    );
    await expect(model.generateTokenIds([[5, 6]], { do_sample: true, top_k: -1 })).rejects.toThrow(
      'options.top_k must be an integer >= 0',
    );
    await expect(model.generateTokenIds([[5, 6]], { seed: -1 })).rejects.toThrow(
      'options.seed must be an integer in [0, 2^53), got -1',
    );
    const greedy = await model.generateTokenIds([[5, 6]], { max_new_tokens: 4, temperature: 0 });
    expect(greedy[0]!.tokenIds).toHaveLength(4);
  });
});

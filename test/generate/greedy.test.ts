// Greedy generation against transformers 5.18 generate(do_sample=False) token for token
// (scripts/fixtures/make_generation.py): left-padded batches, one unpadded prompt, rows stopped by EOS ids.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { modelDir } from '../helpers/fixtures.js';
import { FIXTURE_EOS, reference, untilEos } from './reference.js';

const families = {
  llama: 'Llama, GQA',
  'llama3-tied': 'Llama 3 RoPE scaling, tied embeddings, one KV head',
  mistral: 'Mistral, sliding window 8 crossed in the prompt and while generating',
  qwen2: 'Qwen2, q/k/v bias',
  qwen3: 'Qwen3, q/k norm',
} as const;

describe.each(Object.entries(families))('%s (%s)', (name) => {
  const cases = reference.greedy[name]!;
  const describeCase = (i: number) => ['left-padded batch', 'one prompt', 'batch with two EOS ids'][i]!;

  it.each(cases.map((c, i) => [describeCase(i), c] as const))('%s equals transformers', async (_, c) => {
    const model = await loadModel(modelDir(name));
    const eos = c.eos_token_id ?? [FIXTURE_EOS];
    const out = await model.generateTokenIds(c.prompts, {
      max_new_tokens: c.max_new_tokens,
      eos_token_id: c.eos_token_id ?? undefined,
    });
    expect(out.map((o) => o.tokenIds)).toEqual(c.new_tokens.map((row) => untilEos(row, eos)));
    expect(out.map((o) => o.finishReason)).toEqual(
      c.new_tokens.map((row) => (row.some((t) => eos.includes(t)) ? 'eos' : 'length')),
    );
  });
});

describe('greedy generation', () => {
  it('stops rows at different EOS ids in one batch and keeps generating the rest', async () => {
    const c = reference.greedy.llama![2]!;
    const model = await loadModel(modelDir('llama'));
    const out = await model.generateTokenIds(c.prompts, {
      max_new_tokens: c.max_new_tokens,
      eos_token_id: c.eos_token_id!,
    });
    expect(out.map((o) => o.finishReason)).toEqual(['eos', 'length', 'eos']);
    expect(out.map((o) => o.tokenIds.at(-1))).toEqual([
      c.eos_token_id![0],
      c.new_tokens[1]!.at(-1),
      c.eos_token_id![1],
    ]);
  });

  it('a row gives the same tokens alone as in a left-padded batch', async () => {
    const c = reference.greedy.qwen3![0]!;
    const model = await loadModel(modelDir('qwen3'));
    const batch = await model.generateTokenIds(c.prompts, { max_new_tokens: 12 });
    for (const [i, prompt] of c.prompts.entries()) {
      const [alone] = await model.generateTokenIds([prompt], { max_new_tokens: 12 });
      expect(alone!.tokenIds).toEqual(batch[i]!.tokenIds);
    }
  });

  it('max_new_tokens bounds every row; generation_config.json supplies the EOS id', async () => {
    const c = reference.greedy.qwen3![0]!;
    const model = await loadModel(modelDir('qwen3'));
    const out = await model.generateTokenIds(c.prompts, { max_new_tokens: 3 });
    expect(out.map((o) => o.tokenIds)).toEqual(c.new_tokens.map((row) => untilEos(row.slice(0, 3), [FIXTURE_EOS])));
    // qwen3's row 0 ends with generation_config.json's eos_token_id (1) at its 7th token
    const [row0] = await model.generateTokenIds([c.prompts[0]!], { max_new_tokens: 24 });
    expect(row0).toMatchObject({ finishReason: 'eos', tokenIds: untilEos(c.new_tokens[0]!, [FIXTURE_EOS]) });
    expect(row0!.tokenIds.at(-1)).toBe(FIXTURE_EOS);
  });

  it('rejects prompts that are empty or outside the vocabulary', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.generateTokenIds([])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: 'generate: no prompts given',
    });
    await expect(model.generateTokenIds([[5], []])).rejects.toThrow('generate: prompt 1 has no tokens');
    await expect(model.generateTokenIds([[5, 256]])).rejects.toThrow(
      'generate: prompt 0 holds token id 256 outside the vocabulary [0, 256)',
    );
    await expect(model.generateTokenIds([[5]], { max_new_tokens: 0 })).rejects.toThrow(
      'generate: options.max_new_tokens must be an integer >= 1, got 0',
    );
    await expect(model.generateTokenIds([[5]], { eos_token_id: [1, 300] })).rejects.toThrow(
      'generate: options.eos_token_id must be token ids in [0, 256), got [1,300]',
    );
  });
});

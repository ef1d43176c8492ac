// The defaults generate() takes from a model folder: generation_config.json, else config.json's token ids.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { readGenerationDefaults } from '../../src/generate/generation-config.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

/** A copy of the llama fixture folder with `generationConfig` as its generation_config.json (null: none). */
function llamaWith(generationConfig: Record<string, unknown> | null): string {
  const dir = tempDir('generation-config');
  cpSync(modelDir('llama'), dir, { recursive: true });
  if (generationConfig) writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(generationConfig));
  else rmSync(join(dir, 'generation_config.json'));
  return dir;
}

describe('readGenerationDefaults', () => {
  it('reads the fixture folders: eos 1, pad 2, no sampling settings', async () => {
    expect(await readGenerationDefaults(modelDir('qwen3'))).toEqual({
      eos_token_id: [1],
      pad_token_id: 2,
      max_new_tokens: undefined,
      do_sample: undefined,
      temperature: undefined,
      top_k: undefined,
      top_p: undefined,
    });
  });

  it('takes a list of eos ids and the sampling fields; without the file, config.json gives the token ids', async () => {
    const dir = llamaWith({
      eos_token_id: [1, 7],
      do_sample: true,
      temperature: 0.6,
      top_k: 20,
      top_p: 0.95,
      max_new_tokens: 9,
    });
    expect(await readGenerationDefaults(dir)).toEqual({
      eos_token_id: [1, 7],
      pad_token_id: undefined,
      max_new_tokens: 9,
      do_sample: true,
      temperature: 0.6,
      top_k: 20,
      top_p: 0.95,
    });
    expect(await readGenerationDefaults(llamaWith(null))).toEqual({ eos_token_id: [1], pad_token_id: 2 });
  });

  it('names the file and field that do not hold what generate() expects', async () => {
    const dir = llamaWith({ eos_token_id: 'x' });
    await expect(readGenerationDefaults(dir)).rejects.toMatchObject({
      code: 'ERR_INVALID_MODEL',
      message: `${join(dir, 'generation_config.json')}: eos_token_id must be a token id or a list of them, got "x"`,
    });
    writeFileSync(join(dir, 'generation_config.json'), '{');
    await expect(readGenerationDefaults(dir)).rejects.toThrow(/generation_config.json: not valid JSON/);
  });
});

describe('generate() defaults', () => {
  it("follow the folder's generation_config.json; the call's options win", async () => {
    const prompt = [[40, 41, 42]];
    const greedy = await (await loadModel(modelDir('llama'))).generateTokenIds(prompt, { max_new_tokens: 10 });
    const model = await loadModel(llamaWith({ eos_token_id: 1, do_sample: true, temperature: 5, max_new_tokens: 10 }));
    const sampled = await model.generateTokenIds(prompt, { seed: 0 });
    expect(sampled[0]!.tokenIds).toHaveLength(10);
    expect(sampled[0]!.tokenIds).not.toEqual(greedy[0]!.tokenIds);
    expect(await model.generateTokenIds(prompt, { do_sample: false })).toEqual(greedy);
    expect((await model.generateTokenIds(prompt, { max_new_tokens: 4, seed: 0 }))[0]!.tokenIds).toEqual(
      sampled[0]!.tokenIds.slice(0, 4),
    );
  });
});

// mixParameters, TR-DPO's reference update (this ← (1 − α)·this + α·source, in place): the saved weights against
// the formula applied to the two fixtures' own weights; α = 0 and mixing a model with itself change nothing;
// mismatched models and α outside [0, 1] are refused. Its place in training is checked against TRL's
// SyncRefModelCallback by the sync_ref_model case of test/train/dpo-train.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors } from '../../src/index.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

const weights = async (dir: string) => (await readSafetensors(join(dir, 'model.safetensors'))).tensors;

async function mixedWeights(alpha: number, sourceDir: string) {
  const target = await loadModel(modelDir('llama'));
  await target.mixParameters(sourceDir === modelDir('llama') ? target : await loadModel(sourceDir), alpha);
  const out = tempDir('mix');
  await target.save(out);
  return weights(out);
}

describe('Model.mixParameters', () => {
  it('moves every parameter to (1 - alpha)·target + alpha·source', async () => {
    const [target, source, mixed] = await Promise.all([
      weights(modelDir('llama')),
      weights(modelDir('llama-ref')),
      mixedWeights(0.3, modelDir('llama-ref')),
    ]);
    expect([...mixed.keys()].sort()).toEqual([...target.keys()].sort());
    for (const [name, t] of target) {
      const s = source.get(name)!.data as Float32Array,
        m = mixed.get(name)!.data as Float32Array;
      const worst = (t.data as Float32Array).reduce(
        (w, v, i) => Math.max(w, Math.abs(m[i]! - (0.7 * v + 0.3 * s[i]!)) / Math.max(1, Math.abs(v))),
        0,
      );
      expect(worst, name).toBeLessThan(1e-6);
      expect(m, name).not.toEqual(t.data);
    }
  });

  it('alpha 0 and a model mixed with itself leave the weights unchanged', async () => {
    const target = await weights(modelDir('llama'));
    for (const mixed of [await mixedWeights(0, modelDir('llama-ref')), await mixedWeights(0.6, modelDir('llama'))]) {
      for (const [name, t] of target) expect(mixed.get(name)!.data, name).toEqual(t.data);
    }
  });

  it('refuses another architecture and alpha outside [0, 1]', async () => {
    const llama = await loadModel(modelDir('llama'));
    await expect(llama.mixParameters(await loadModel(modelDir('qwen2')), 0.5)).rejects.toThrow(/parameter/);
    await expect(llama.mixParameters(await loadModel(modelDir('llama-ref')), 1.5)).rejects.toThrow(
      /alpha must be in \[0, 1\]/,
    );
  });
});

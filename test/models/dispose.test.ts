// dispose() frees a model's weights at once; the handle then refuses every call with a clear error.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

describe('Model.dispose', () => {
  it('makes later calls fail, synchronous and asynchronous', async () => {
    const model = await loadModel(modelDir('llama'));
    expect((await model.logits([[1, 2, 3]])).shape).toEqual([1, 3, model.config.vocabSize]);
    await model.dispose();
    await expect(model.logits([[1, 2, 3]])).rejects.toThrow(/disposed/);
    await expect(model.save(tempDir('disposed'))).rejects.toThrow(/disposed/);
    expect(() => model.config).toThrow(/disposed/);
    await model.dispose(); // twice is harmless
  });
});

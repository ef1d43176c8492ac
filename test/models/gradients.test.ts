// Autograd through the native model against PyTorch: loss and every parameter's gradient from
// transformers' causal LM loss (labels = input_ids, padding = -100), recorded by make_models.py.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { expectGradients, maxAbs, maxAbsDiff, modelDir, reference } from '../helpers/fixtures.js';

describe.each(['llama', 'qwen2', 'qwen3'])('%s gradients', (name) => {
  it('loss and all parameter gradients match PyTorch', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir(name)), reference(name)]);
    const loss = await model.forwardBackward(
      ref('input_ids').data as Int32Array,
      ref('attention_mask').data as Int32Array,
      { seqLen: 12 },
    );
    const expectedLoss = (ref('loss').data as Float32Array)[0]!;
    expect(Math.abs(loss - expectedLoss) / expectedLoss).toBeLessThan(1e-5);

    await expectGradients(
      model,
      (param) => ref(`grad.${param}`).data as Float32Array,
      (scale) => 1e-5 + 1e-4 * scale,
    );
  });
});

describe('gradient accumulation', () => {
  it('accumulates across calls and zeroGrad clears', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('llama')]);
    const ids = ref('input_ids').data as Int32Array;
    const mask = ref('attention_mask').data as Int32Array;
    await model.forwardBackward(ids, mask, { seqLen: 12 });
    const once = (await model.gradients()).get('model.norm.weight')!.data;
    await model.forwardBackward(ids, mask, { seqLen: 12 });
    const twice = (await model.gradients()).get('model.norm.weight')!.data;
    expect(
      maxAbsDiff(
        twice,
        once.map((g) => 2 * g),
        once.length,
      ),
    ).toBeLessThanOrEqual(1e-6 * maxAbs(once) + 1e-9);
    await model.zeroGrad();
    expect((await model.gradients()).size).toBe(0);
  });
});

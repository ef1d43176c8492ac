// Gradient checkpointing (native/models/layer_checkpoint.h) against the same DPO step without it: the recompute
// runs the same ops on the same input under the same autocast state, so the loss, the metrics and every
// parameter's gradient are equal bit for bit, in float32 and under bf16 autocast. Policy: the llama fixture;
// reference: llama-ref (so the log-ratios are not 0); the batch of make_dpo_loss.py (padded pairs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, type DpoStepOptions, type Model } from '../../src/index.js';
import { fixturesDir, modelDir } from '../helpers/fixtures.js';

const { batch } = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'dpo-loss.json'), 'utf8')) as {
  batch: { input_ids: number[][]; attention_mask: number[][]; completion_mask: number[][] };
};

async function step(policy: Model, reference: Model, options: DpoStepOptions) {
  await policy.zeroGrad();
  const batchArgs = {
    inputIds: batch.input_ids,
    attentionMask: batch.attention_mask,
    completionMask: batch.completion_mask,
  };
  const out = await policy.dpoStep(batchArgs, reference, { loss_type: ['sigmoid', 'sft'], ...options });
  return { ...out, grads: await policy.gradients() };
}

describe.each([false, true])('bf16 %s', (bf16) => {
  it('a checkpointed DPO step gives the loss, metrics and gradients of the plain one', async () => {
    const [policy, reference] = await Promise.all([loadModel(modelDir('llama')), loadModel(modelDir('llama-ref'))]);
    const plain = await step(policy, reference, { bf16 });
    const checkpointed = await step(policy, reference, { bf16, gradient_checkpointing: true });
    expect(checkpointed.loss).toBe(plain.loss);
    expect(checkpointed.metrics).toEqual(plain.metrics);
    expect([...checkpointed.grads.keys()].sort()).toEqual(
      policy
        .parameters()
        .map((p) => p.name)
        .sort(),
    );
    for (const [name, grad] of plain.grads) {
      expect(checkpointed.grads.get(name)!.data, name).toEqual(grad.data);
    }
    // Without autograd (evaluation) there is nothing to checkpoint: same values, no gradients.
    await policy.zeroGrad();
    const evaluated = await policy.dpoStep(
      { inputIds: batch.input_ids, attentionMask: batch.attention_mask, completionMask: batch.completion_mask },
      reference,
      { loss_type: ['sigmoid', 'sft'], bf16, gradient_checkpointing: true, backward: false },
    );
    expect(evaluated.loss).toBe(plain.loss);
    expect((await policy.gradients()).size).toBe(0);
  });
});

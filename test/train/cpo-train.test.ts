// train() with trainer: cpo against TRL 1.13's experimental CPOTrainer.train() on the llama fixture, every logged
// value of every step as orpo-train.test.ts compares them. Recorded by scripts/fixtures/make_trl_cpo_train.py: each
// loss_type (sigmoid with label_smoothing, hinge, ipo, simpo with the NLL term and pure SimPO with cpo_alpha 0),
// AlphaPO's alpha, an eval set with gradient accumulation, a MoE model with output_router_logits (the router aux
// loss), and LoRA. Measured: step 1 within 6.2e-7 relative, later steps within 1.1e-5, but for the vocabulary-mean
// logits (~5e-3, from O(1) logits that cancel): 1e-9 absolute, 2e-4 relative.
import { describe, it } from 'vitest';
import { expectTrlParity, referenceFreeCases } from '../helpers/reference-free.js';

const cases = referenceFreeCases('cpo-train.json');

describe('CPO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => expectTrlParity('cpo', c));
});

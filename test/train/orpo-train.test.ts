// train() with trainer: orpo against TRL 1.13's experimental ORPOTrainer.train() on the llama fixture: every logged
// value of every step (loss, grad_norm, learning_rate, epoch, rewards/, logps/, logits/, nll_loss, log_odds_ratio,
// log_odds_chosen, eval_*), relative 1e-4 at step 1 and 1e-3 after (floor 1e-6 absolute; bf16: see
// test/helpers/reference-free.ts). Recorded by scripts/fixtures/make_trl_orpo_train.py: the default beta, another
// beta with an eval set and gradient accumulation, max_length cutting the completions (TRL 1.13's slice),
// padding_value, LoRA (PEFT 0.21), conversational rows under a chat template, bf16 autocast with gradient
// checkpointing, a MoE model with output_router_logits (the router aux loss), and prompts whose last token merges
// with the completion's first. Measured in float32: step 1 within 1.1e-6 relative, later steps within 1.1e-5.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/train/train-from-config.js';
import type { OrpoConfig } from '../../src/types/config-types.js';
import { tempDir, withoutTimings } from '../helpers/fixtures.js';
import { expectTrlParity, referenceFreeCases, referenceFreeConfig } from '../helpers/reference-free.js';

const cases = referenceFreeCases('orpo-train.json');

describe('ORPO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => expectTrlParity('orpo', c));
});

describe('checkpoints', () => {
  it('resuming from checkpoint-2 continues exactly as the uninterrupted run', async () => {
    const c = cases.find((x) => x.name === 'orpo')!;
    const uninterrupted = await train(referenceFreeConfig('orpo', c, tempDir('orpo-full')), { log: () => {} });
    const config = { ...referenceFreeConfig<OrpoConfig>('orpo', c, tempDir('orpo-first')), save_steps: 100 };
    const controller = new AbortController();
    const stopped = await train(
      { ...config, save_strategy: 'steps' },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 2 && 'loss' in entry) controller.abort();
        },
      },
    );
    expect(stopped.checkpoint).toBe(join(config.output_dir!, 'checkpoint-2'));
    const resumed = await train({ ...config, resume_from_checkpoint: stopped.checkpoint }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });
});

// Training on ranked rows (four graded answers per prompt) through trainer dpo: each pairing strategy
// (best_vs_worst, best_vs_random, all_pairs) makes DPO pairs, and ranked_pairing: listwise trains the Plackett–Luce
// loss over whole rankings (native/train/listwise_loss.h), also with LoRA; all_pairs weighted by score gap. With two answers per prompt the listwise
// loss is DPO's sigmoid loss, so a listwise run on pairs logs what the DPO run logs, step for step.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/train/train-from-config.js';
import type { DpoConfig } from '../../src/types/config-types.js';
import { expectLogEntryClose, modelDir, tempDir } from '../helpers/fixtures.js';

const ANSWERS = [' blue.', ' grey.', ' green.', ' made of cheese.'];
const ROWS = ['The sky is', 'The sea is', 'Grass is', 'The moon is', 'Snow is', 'Coal is'].map((prompt, i) => ({
  prompt,
  // Scores 3..0 in a rotated order, so the best answer is not always first in the file.
  completions: ANSWERS.map((_, k) => ANSWERS[(k + i) % 4]),
  scores: ANSWERS.map((_, k) => 3 - ((k + i) % 4)),
}));

function configFor(name: string, rows: unknown[], extra: Partial<DpoConfig>): DpoConfig {
  const dir = tempDir(`ranked-train-${name}`);
  const data = join(dir, 'ranked.jsonl');
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    eval_dataset: data,
    eval_strategy: 'steps',
    eval_steps: 4,
    output_dir: join(dir, 'out'),
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    learning_rate: 1e-3,
    logging_steps: 1,
    max_steps: 4,
    per_device_train_batch_size: 2,
    precompute_ref_log_probs: false,
    ...extra,
  } as DpoConfig;
}

describe('ranked rows train through trainer dpo', () => {
  it.each([
    ['best_vs_worst', 6],
    ['best_vs_random', 6],
    ['all_pairs', 36],
  ] as const)('%s: DPO on the %i pairs it makes', async (pairing, pairs) => {
    const { logHistory, globalStep } = await train(configFor(pairing, ROWS, { ranked_pairing: pairing }), {
      log: () => {},
    });
    expect(globalStep).toBe(4);
    const steps = logHistory.filter((e) => 'loss' in e);
    // Four steps of two pairs: the epoch counts the pairs.
    expect(steps.at(-1)!.epoch).toBeCloseTo(8 / pairs, 6);
    expect(steps[0]!.loss).toBeCloseTo(Math.log(2), 5);
    expect(steps.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(logHistory.find((e) => 'eval_loss' in e)).toHaveProperty('eval_rewards/accuracies');
  });

  it.each([
    ['listwise', {}],
    [
      'listwise_lora',
      { use_peft: true, lora_r: 8, lora_alpha: 16, lora_target_modules: ['q_proj', 'v_proj'], learning_rate: 1e-2 },
    ],
  ] as const)('%s: the Plackett–Luce loss over every answer', async (name, extra) => {
    const { logHistory } = await train(configFor(name, ROWS, { ranked_pairing: 'listwise', ...extra }), {
      log: () => {},
    });
    const steps = logHistory.filter((e) => 'loss' in e && !('train_loss' in e));
    // At the start policy = reference: every reward 0, the loss Σ_k log(K − k) = log 4! per prompt.
    expect(steps[0]!.loss).toBeCloseTo(Math.log(24), 5);
    expect(steps[0]).toHaveProperty('rewards/ranking_accuracy');
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0]!.loss!);
    const evals = logHistory.filter((e) => 'eval_loss' in e);
    expect(evals.at(-1)!['eval_rewards/ranking_accuracy']!).toBeGreaterThan(0.5);
  });

  it('with two answers per prompt, listwise logs what DPO logs', async () => {
    const pairs = ROWS.map((r) => ({ ...r, completions: r.completions.slice(0, 2), scores: r.scores.slice(0, 2) }));
    const common = { train_sampling_strategy: 'sequential', eval_strategy: 'no' } as const;
    const dpo = await train(configFor('pairs-dpo', pairs, { ranked_pairing: 'best_vs_worst', ...common }), {
      log: () => {},
    });
    const listwise = await train(configFor('pairs-listwise', pairs, { ranked_pairing: 'listwise', ...common }), {
      log: () => {},
    });
    const pick = (e: Record<string, number>) =>
      Object.fromEntries(
        [
          'step',
          'loss',
          'grad_norm',
          'rewards/chosen',
          'rewards/rejected',
          'rewards/margins',
          'rewards/accuracies',
          'logps/chosen',
          'logps/rejected',
        ].map((k) => [k, e[k]!]),
      );
    const steps = (h: typeof dpo.logHistory) => h.filter((e) => 'loss' in e && !('train_loss' in e)).map(pick);
    const [a, b] = [steps(listwise.logHistory), steps(dpo.logHistory)];
    expect(a.length).toBe(4);
    a.forEach((entry, i) => expectLogEntryClose(entry, b[i]!, 1e-5));
  });

  it('all_pairs weighted by score gap: DPO sigmoid on every pair, each weighted by its score difference', async () => {
    const { logHistory } = await train(
      configFor('score-gap', ROWS, { ranked_pairing: 'all_pairs', ranked_pair_weighting: 'score_gap' }),
      { log: () => {} },
    );
    const steps = logHistory.filter((e) => 'loss' in e && !('train_loss' in e));
    // Every reward 0 at the start: each pair's loss is log 2, and so is their weighted mean.
    expect(steps[0]!.loss).toBeCloseTo(Math.log(2), 5);
    // Four steps of two pairs out of 36: the epoch counts the pairs.
    expect(steps.at(-1)!.epoch).toBeCloseTo(8 / 36, 6);
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0]!.loss!);
  });

  it("a Mixture-of-Experts model adds the router's load-balancing loss, as DPO's step does", async () => {
    const { logHistory } = await train(
      configFor('moe', ROWS, { model_name_or_path: modelDir('mixtral'), ranked_pairing: 'listwise', max_steps: 1 }),
      { log: () => {} },
    );
    const step = logHistory.find((e) => 'loss' in e && !('train_loss' in e))!;
    expect(step.aux_loss).toBeGreaterThan(0);
    // The listwise loss is log 4! at the start; the logged loss adds router_aux_loss_coef (0.001) × aux_loss.
    expect(step.loss).toBeCloseTo(Math.log(24) + 0.001 * step.aux_loss!, 5);
  });

  it('refuses DPO pairwise loss keys with listwise, and score_gap without all_pairs', async () => {
    await expect(
      train(configFor('refuse', ROWS, { ranked_pairing: 'listwise', loss_type: ['ipo'] }), { log: () => {} }),
    ).rejects.toThrow(/ranked_pairing: listwise trains the Plackett–Luce loss.*loss_type/);
    await expect(
      train(configFor('refuse-gap', ROWS, { ranked_pairing: 'best_vs_worst', ranked_pair_weighting: 'score_gap' }), {
        log: () => {},
      }),
    ).rejects.toThrow(/ranked_pair_weighting: score_gap weights the pairs of ranked_pairing: all_pairs/);
  });
});

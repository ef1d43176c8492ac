// The one metrics reducer (src/train/metrics.ts) on its own: TRL's rules for counts of 0 (DPOTrainer and
// SFTTrainer log 0, KTOTrainer leaves a side's metrics out and rewards/margins unless both sides have rows), the
// data-parallel reduction (all ranks' sums over all ranks' counts, not a mean of the ranks' means), and the mean
// over a logging window. Whole runs against TRL: dpo-train, kto-train, sft-train and test/distributed.
import { describe, expect, it } from 'vitest';
import {
  METRIC_RULES,
  addParts,
  pushMetrics,
  stepMetrics,
  sumAcrossRanks,
  windowMeans,
  type MetricParts,
  type MetricWindow,
  type RankGroup,
} from '../../src/train/metrics.js';

/** Two ranks whose all-reduce adds `other` (the second rank's flattened values) to this rank's. */
const twoRanks = (other: number[]): RankGroup => ({
  worldSize: 2,
  sum: async (values) => values.map((v, i) => v + other[i]!),
});

const kto = (chosen: [number, number], rejected: [number, number]): MetricParts => ({
  kl: [0.25, 1],
  entropy: [6, 4],
  'logits/chosen': [chosen[0], chosen[1] * 2],
  'logits/rejected': [rejected[0], rejected[1] * 2],
  'rewards/chosen': chosen,
  'logps/chosen': chosen,
  'rewards/rejected': rejected,
  'logps/rejected': rejected,
});

describe('metrics', () => {
  it('DPO and SFT: sum / count, 0 when nothing was counted; num_tokens as given', () => {
    const parts: MetricParts = {
      'rewards/chosen': [3, 2],
      'logits/chosen': [0, 0],
      entropy: [0, 0],
      mean_token_accuracy: [5, 8],
    };
    expect(stepMetrics({ parts, num_tokens: 40 }, METRIC_RULES.dpo)).toEqual({
      'rewards/chosen': 1.5,
      'logits/chosen': 0,
      entropy: 0,
      mean_token_accuracy: 0.625,
      num_tokens: 40,
    });
    expect(
      stepMetrics({ parts: { entropy: [0, 0], mean_token_accuracy: [0, 0] }, num_tokens: 7 }, METRIC_RULES.sft),
    ).toEqual({ entropy: 0, mean_token_accuracy: 0, num_tokens: 7 });
  });

  it('KTO: a side without rows logs none of its metrics, rewards/margins only with both sides; entropy 0 without tokens', () => {
    const both = stepMetrics({ parts: kto([3, 2], [-1, 1]), num_tokens: 9 }, METRIC_RULES.kto);
    expect(both['rewards/margins']).toBe(1.5 - -1);
    expect(both['logits/chosen']).toBe(3 / 4);
    const chosenOnly = stepMetrics(
      { parts: { ...kto([3, 2], [0, 0]), entropy: [0, 0] }, num_tokens: 9 },
      METRIC_RULES.kto,
    );
    expect(chosenOnly).toEqual({
      kl: 0.25,
      entropy: 0,
      'logits/chosen': 0.75,
      'rewards/chosen': 1.5,
      'logps/chosen': 1.5,
      num_tokens: 9,
    });
  });

  it("data parallel: every rank's sums over every rank's counts, in the native order", async () => {
    // Rank 0 has only chosen rows, rank 1 only rejected ones: together both sides, so rewards/margins is logged.
    const rank0 = { parts: kto([3, 2], [0, 0]), num_tokens: 10 };
    const rank1 = { parts: kto([0, 0], [-3, 3]), num_tokens: 14 };
    const flat = (m: typeof rank1) => [
      m.num_tokens,
      ...Object.keys(m.parts)
        .sort()
        .flatMap((k) => m.parts[k]!),
    ];
    const sums = await sumAcrossRanks(twoRanks([5, ...flat(rank1)]), [1], [rank0], METRIC_RULES.kto);
    expect(sums.scalars).toEqual([6]);
    const [metrics] = sums.metrics;
    expect(Object.keys(metrics!)).toEqual([...Object.keys(rank0.parts), 'rewards/margins', 'num_tokens']);
    expect(metrics).toMatchObject({
      kl: 0.25,
      entropy: 12 / 8,
      'rewards/chosen': 1.5,
      'rewards/rejected': -1,
      'rewards/margins': 2.5,
      num_tokens: 24,
    });
    // A mean over pairs is over all ranks' pairs, not the mean of the ranks' means.
    const dpo = await sumAcrossRanks(
      twoRanks([0, 10, 4]),
      [],
      [{ parts: { 'rewards/chosen': [1, 1] }, num_tokens: 3 }],
      METRIC_RULES.dpo,
    );
    expect(dpo.metrics[0]).toEqual({ 'rewards/chosen': 11 / 5, num_tokens: 3 });
  });

  it('a logging window logs the mean of the micro-batches that have a metric; parts add up', () => {
    const window: MetricWindow = {};
    pushMetrics(window, { entropy: 1, 'rewards/chosen': 4, num_tokens: 10 });
    pushMetrics(window, { entropy: 2, num_tokens: 12 });
    expect(windowMeans(window)).toEqual({ entropy: 1.5, 'rewards/chosen': 4 });
    expect(addParts({ entropy: [1, 2] }, { entropy: [3, 4], kl: [1, 1] })).toEqual({ entropy: [4, 6], kl: [1, 1] });
  });
});

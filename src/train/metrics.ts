// TRL's metrics, for every trainer, from the (sum, count) parts a native step returns (native/train/metric_parts.h):
// each metric is the sum of its values over what it averages (pairs, rows, one side's completion tokens, ...)
// divided by how many those are. One process divides its own parts; data-parallel ranks first add up every rank's
// sums and counts, as TRL gathers them (accelerator.gather_for_metrics) before it divides. A logging window then
// holds each micro-batch's values and logs their mean, as TRL's log() averages its _metrics lists.
import type { MetricParts, StepMetricParts } from '../types/steps.js';

export type { MetricParts, StepMetricParts };

/** What the reduction needs of a data-parallel group (distributed/data-parallel.ts; not imported: model.ts imports this). */
export interface RankGroup {
  worldSize: number;
  /** Each value summed over the ranks (an all-reduce). */
  sum(values: number[]): Promise<number[]>;
}

/** What TRL does beyond sum / count for a trainer's metrics. */
export interface MetricRules {
  /**
   * Metrics TRL leaves out of a micro-batch when their count is 0 over every rank (KTOTrainer appends a side's
   * logits/, rewards/ and logps/ only when that side has tokens or rows). Any other metric is then 0, TRL's
   * `sum / count if count > 0 else 0.0`.
   */
  absentWhenEmpty?: readonly string[];
  /** Metrics that are the difference of two reduced ones, when both have a value (KTO's rewards/margins). */
  differences?: Readonly<Record<string, readonly [string, string]>>;
  /**
   * Metrics a logging window (or an evaluation) pools: the sum of their sums over its micro-batches divided by the
   * sum of their counts, absent when that is 0 (BCOTrainer.log), rather than the mean of per-micro-batch values.
   * A difference of pooled metrics is taken after pooling.
   */
  pooled?: readonly string[];
  /** Whether the log carries num_tokens (BCOTrainer logs none). Default true. */
  numTokens?: boolean;
}

/** TRL 1.13's rules: DPOTrainer._compute_loss, KTOTrainer._compute_loss, SFTTrainer.compute_loss. */
export const METRIC_RULES = {
  dpo: {},
  sft: {},
  /** RewardTrainer.compute_loss: plain means (min_reward / max_reward are one value each: src/train/reward.ts). */
  reward: {},
  /** ORPOTrainer / CPOTrainer.get_batch_loss_metrics: plain means, each rank's logits/ and nll_loss one value; no num_tokens. */
  referenceFree: { numTokens: false },
  kto: {
    absentWhenEmpty: [
      'logits/chosen',
      'logits/rejected',
      'rewards/chosen',
      'logps/chosen',
      'rewards/rejected',
      'logps/rejected',
    ],
    differences: { 'rewards/margins': ['rewards/chosen', 'rewards/rejected'] },
  },
  /** BCOTrainer.get_batch_loss_metrics / log: each side's sums and row counts pooled over the window; no num_tokens. */
  bco: {
    pooled: [
      'rewards/chosen',
      'logps/chosen',
      'logits/chosen',
      'rewards/rejected',
      'logps/rejected',
      'logits/rejected',
    ],
    differences: { 'rewards/margins': ['rewards/chosen', 'rewards/rejected'] },
    numTokens: false,
  },
} as const satisfies Record<string, MetricRules>;

/** A pooled metric's count travels beside its sum under this key until the window divides them. */
const countKey = (key: string) => `${key}#count`;
const isPooled = (rules: MetricRules, key: string) => rules.pooled?.includes(key) ?? false;

/** One micro-batch's metrics from its parts (one rank's, or summed over the ranks), num_tokens last. */
export function stepMetrics({ parts, num_tokens }: StepMetricParts, rules: MetricRules): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, [sum, count]] of Object.entries(parts)) {
    if (isPooled(rules, key)) [metrics[key], metrics[countKey(key)]] = [sum, count];
    else if (count > 0) metrics[key] = sum / count;
    else if (!rules.absentWhenEmpty?.includes(key)) metrics[key] = 0;
  }
  differencesOf(metrics, rules, false);
  metrics.num_tokens = num_tokens;
  return metrics;
}

/** rules.differences over reduced metrics: those of plain metrics per micro-batch, of pooled ones per window. */
function differencesOf(metrics: Record<string, number>, rules: MetricRules, pooled: boolean): void {
  for (const [key, [a, b]] of Object.entries(rules.differences ?? {})) {
    if (isPooled(rules, a) !== pooled) continue;
    if (metrics[a] !== undefined && metrics[b] !== undefined) metrics[key] = metrics[a] - metrics[b];
  }
}

/** Parts added up (a metric's sums and counts): batches of one evaluation, or ranks. */
export function addParts(into: MetricParts, parts: MetricParts): MetricParts {
  for (const [key, [sum, count]] of Object.entries(parts)) {
    const total = (into[key] ??= [0, 0]);
    total[0] += sum;
    total[1] += count;
  }
  return into;
}

export interface RankSums {
  /** `scalars` summed over the ranks. */
  scalars: number[];
  /** Each micro-batch's metrics over every rank's rows (num_tokens summed). */
  metrics: Record<string, number>[];
}

/**
 * One all-reduce for an optimizer step (or an evaluation batch): the caller's scalars and each micro-batch's parts
 * and num_tokens summed over the ranks, then each micro-batch's metrics. Every rank has the same micro-batches and
 * metric names (a native step gives every name, with count 0 when it has nothing to average).
 */
export async function sumAcrossRanks(
  dataParallel: RankGroup,
  scalars: number[],
  micro: StepMetricParts[],
  rules: MetricRules,
): Promise<RankSums> {
  if (dataParallel.worldSize === 1) return { scalars, metrics: micro.map((m) => stepMetrics(m, rules)) };
  // The collective's layout is sorted so that every rank agrees; the metrics keep the native order.
  const layouts = micro.map((m) => Object.keys(m.parts).sort());
  const flat = [...scalars];
  micro.forEach((m, i) => {
    flat.push(m.num_tokens);
    for (const key of layouts[i]!) flat.push(...m.parts[key]!);
  });
  const sums = await dataParallel.sum(flat);
  let at = scalars.length;
  const metrics = micro.map((m, i) => {
    const num_tokens = sums[at++]!;
    const summed: MetricParts = {};
    for (const key of layouts[i]!) summed[key] = [sums[at++]!, sums[at++]!];
    const parts = Object.fromEntries(Object.keys(m.parts).map((key) => [key, summed[key]!]));
    return stepMetrics({ parts, num_tokens }, rules);
  });
  return { scalars: sums.slice(0, scalars.length), metrics };
}

/** A logging window: each metric's values, one per micro-batch that has it (num_tokens is a running total apart). */
export type MetricWindow = Record<string, number[]>;

export function pushMetrics(window: MetricWindow, metrics: Record<string, number>): void {
  for (const [key, value] of Object.entries(metrics)) if (key !== 'num_tokens') (window[key] ??= []).push(value);
}

/** TRL's log(): each metric is the mean of its values in the window; a pooled one its sums over its counts. */
export function windowMeans(window: MetricWindow, rules: MetricRules = {}): Record<string, number> {
  const means: Record<string, number> = Object.fromEntries(
    Object.entries(window).map(([key, values]) => [key, values.reduce((a, b) => a + b, 0) / values.length]),
  );
  for (const key of rules.pooled ?? []) {
    if (!(key in means)) continue;
    // Every micro-batch pushes both, so the ratio of their means is that of their totals.
    const count = means[countKey(key)]!;
    if (count > 0) means[key] = means[key]! / count;
    else delete means[key];
    delete means[countKey(key)];
  }
  differencesOf(means, rules, true);
  return means;
}

// TRL's metrics across data-parallel ranks. TRL gathers, for each metric, the values or the sums and counts of every
// rank before it averages (accelerator.gather_for_metrics): a metric over pairs is the mean over all ranks' pairs,
// a metric over tokens is all ranks' sum over all ranks' tokens. A recipe gives each metric as such a (sum, count)
// part; the ranks add the parts up and this divides. One process needs none of it: its metrics are used as they are.
import type { DataParallel } from '../distributed/data-parallel.js';

/** Per metric, the sum of its values over what it averages (pairs, rows, tokens) and how many those are. */
export type MetricParts = Record<string, [sum: number, count: number]>;

/** Each metric from its parts: sum / count, 0 when nothing was counted (TRL's `if total > 0 else 0.0`). */
export function combineParts(parts: MetricParts): Record<string, number> {
  return Object.fromEntries(Object.entries(parts).map(([key, [sum, count]]) => [key, count > 0 ? sum / count : 0]));
}

/** The parts of a micro-batch's metrics: its own, or each metric as one value of weight 1 (a plain mean over ranks). */
function partsOf(result: { metrics: object; parts?: MetricParts }): MetricParts {
  if (result.parts) return result.parts;
  const entries = Object.entries(result.metrics as Record<string, number>).filter(([key]) => key !== 'num_tokens');
  return Object.fromEntries(entries.map(([key, value]) => [key, [value, 1]]));
}

export interface RankSums {
  /** `scalars` summed over the ranks. */
  scalars: number[];
  /** Each micro-batch's metrics over every rank's rows (num_tokens summed). */
  metrics: Record<string, number>[];
}

/**
 * One all-reduce for an optimizer step (or an evaluation batch): the caller's scalars and each micro-batch's metric
 * parts and num_tokens, summed over the ranks. Every rank has the same micro-batches and metric names.
 */
export async function sumAcrossRanks(dataParallel: DataParallel, scalars: number[],
  micro: { metrics: object; parts?: MetricParts }[], combine: (parts: MetricParts) => Record<string, number> = combineParts,
): Promise<RankSums> {
  if (dataParallel.worldSize === 1) return { scalars, metrics: micro.map((m) => m.metrics as Record<string, number>) };
  const layouts = micro.map((m) => Object.entries(partsOf(m)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const flat = [...scalars];
  micro.forEach((m, i) => {
    flat.push((m.metrics as { num_tokens?: number }).num_tokens ?? 0);
    for (const [, [sum, count]] of layouts[i]!) flat.push(sum, count);
  });
  const sums = await dataParallel.sum(flat);
  let at = scalars.length;
  const metrics = layouts.map((layout, i) => {
    const numTokens = sums[at++]!;
    const parts: MetricParts = {};
    for (const [key] of layout) parts[key] = [sums[at++]!, sums[at++]!];
    const combined: Record<string, number> = { ...combine(parts), num_tokens: numTokens };
    // In the order the recipe gives its metrics (the collective's layout is sorted so that every rank agrees).
    const order = Object.keys(micro[i]!.metrics);
    return Object.fromEntries(Object.entries(combined).sort(([a], [b]) => position(order, a) - position(order, b)));
  });
  return { scalars: sums.slice(0, scalars.length), metrics };
}

const position = (order: string[], key: string) => (order.includes(key) ? order.indexOf(key) : order.length);

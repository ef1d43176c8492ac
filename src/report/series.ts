// The charts a log holds: one per metric, its training values and its evaluation values (eval_<metric>) against
// the optimizer step, so eval_loss is drawn beside loss.
import type { MetricsLog } from './metrics-log.js';

export type Split = 'train' | 'eval';

export interface Point {
  step: number;
  value: number;
  split: Split;
}

export interface Series {
  metric: string;
  points: Point[];
}

/**
 * The charts a run is read by come first (online DPO's judge score, DPO's margins and accuracies, SFT's token
 * accuracy); the rest follow as logged.
 */
const HEADLINE = [
  'online/score_mean',
  'loss',
  'rewards/margins',
  'rewards/accuracies',
  'mean_token_accuracy',
  'learning_rate',
];
/** Where an entry sits, not a metric: online DPO's entries carry their round. */
const POSITION = new Set(['step', 'epoch', 'round']);
const EVAL_PREFIX = 'eval_';

export function metricSeries(log: MetricsLog): Series[] {
  const points = new Map<string, Point[]>();
  const add = (metric: string, step: number, value: number, split: Split) => {
    let list = points.get(metric);
    if (!list) points.set(metric, (list = []));
    list.push({ step, value, split });
  };
  for (const entry of log.train) {
    for (const [key, value] of Object.entries(entry)) if (!POSITION.has(key)) add(key, entry.step!, value, 'train');
  }
  for (const entry of log.eval) {
    for (const [key, value] of Object.entries(entry))
      if (key.startsWith(EVAL_PREFIX)) add(key.slice(EVAL_PREFIX.length), entry.step!, value, 'eval');
  }
  const metrics = [
    ...HEADLINE.filter((m) => points.has(m)),
    ...[...points.keys()].filter((m) => !HEADLINE.includes(m)),
  ];
  return metrics.map((metric) => ({ metric, points: points.get(metric)! }));
}

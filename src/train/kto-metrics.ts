// What TRL 1.13's KTOTrainer._compute_loss computes around the loss (native/train/kto_loss.h): the KL reference
// point from the mismatched rows' log-probs, and the metrics it logs for a batch.
import type { KtoStepResult } from '../model.js';
import type { MetricParts } from './metric-parts.js';

const f = Math.fround;

/**
 * TRL's kl before it is clamped: the mean over the batch of the policy's minus the reference's log-probs of the
 * mismatched (prompt, KL completion) rows. Data-parallel ranks average theirs, then clamp.
 */
export function klMean(policyKlLogps: Float32Array, refKlLogps: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < policyKlLogps.length; i++) sum += f(policyKlLogps[i]! - refKlLogps[i]!);
  return f(sum / policyKlLogps.length);
}

/** TRL's kl: {@link klMean} detached and clamped at 0, KTO's estimate of KL(π‖π_ref), its reference point. */
export const klEstimate = (mean: number) => Math.max(mean, 0);

/**
 * The sums and counts behind TRL's metrics of one batch (metric-parts.ts): kl; entropy over all completion tokens;
 * logits/ over each side's tokens, rewards/ and logps/ over each side's rows (chosen: desirable).
 */
export function ktoParts(step: KtoStepResult, labels: Uint8Array, kl: number): MetricParts {
  const tokens = step.tokens.reduce((a, b) => a + b, 0);
  const parts: MetricParts = { kl: [kl, 1], entropy: [step.entropy.reduce((a, b) => a + b, 0), tokens] };
  for (const [side, label] of [['rejected', 0], ['chosen', 1]] as const) {
    const s = { rows: 0, tokens: 0, meanLogit: 0, rewards: 0, logps: 0 };
    labels.forEach((l, i) => {
      if (l !== label) return;
      s.rows++;
      s.tokens += step.tokens[i]!;
      s.meanLogit += step.meanLogit[i]!;
      s.rewards += step.rewards[i]!;
      s.logps += step.logps[i]!;
    });
    parts[`logits/${side}`] = [s.meanLogit, s.tokens];
    parts[`rewards/${side}`] = [s.rewards, s.rows];
    parts[`logps/${side}`] = [s.logps, s.rows];
  }
  return parts;
}

/**
 * TRL's metrics from their parts (one batch's, or summed over the ranks): entropy 0 without tokens; logits/,
 * rewards/ and logps/ of a side only when it has tokens (rows); rewards/margins when both sides have rows.
 */
export function ktoCombine(parts: MetricParts): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, [sum, count]] of Object.entries(parts)) {
    if (count > 0) metrics[key] = sum / count;
    else if (key === 'entropy') metrics[key] = 0;
  }
  if (metrics['rewards/chosen'] !== undefined && metrics['rewards/rejected'] !== undefined) {
    metrics['rewards/margins'] = metrics['rewards/chosen'] - metrics['rewards/rejected'];
  }
  return metrics;
}

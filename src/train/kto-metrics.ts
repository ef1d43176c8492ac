// What TRL 1.13's KTOTrainer._compute_loss computes around the loss (native/train/kto_loss.h): the KL reference
// point from the mismatched rows' log-probs, and the metrics it logs for a batch.
import type { KtoStepResult } from '../model.js';

const f = Math.fround;

/**
 * TRL's kl: the mean over the batch of the policy's minus the reference's log-probs of the mismatched
 * (prompt, KL completion) rows, detached and clamped at 0 — KTO's estimate of KL(π‖π_ref), its reference point.
 */
export function klEstimate(policyKlLogps: Float32Array, refKlLogps: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < policyKlLogps.length; i++) sum += f(policyKlLogps[i]! - refKlLogps[i]!);
  return Math.max(f(sum / policyKlLogps.length), 0);
}

/**
 * TRL's metrics of one batch: kl; entropy over all completion tokens; logits/, rewards/ and logps/ for chosen
 * (desirable) and rejected rows, each only when the batch has such rows (tokens); rewards/margins when it has both.
 */
export function ktoMetrics(step: KtoStepResult, labels: Uint8Array, kl: number): Record<string, number> {
  const sums = [0, 1].map((label) => {
    const s = { rows: 0, tokens: 0, meanLogit: 0, rewards: 0, logps: 0 };
    labels.forEach((l, i) => {
      if (l !== label) return;
      s.rows++;
      s.tokens += step.tokens[i]!;
      s.meanLogit += step.meanLogit[i]!;
      s.rewards += step.rewards[i]!;
      s.logps += step.logps[i]!;
    });
    return s;
  });
  const tokens = step.tokens.reduce((a, b) => a + b, 0);
  const metrics: Record<string, number> = { kl, entropy: tokens > 0 ? step.entropy.reduce((a, b) => a + b, 0) / tokens : 0 };
  for (const [side, s] of [['rejected', sums[0]!], ['chosen', sums[1]!]] as const) {
    if (s.tokens > 0) metrics[`logits/${side}`] = s.meanLogit / s.tokens;
    if (s.rows > 0) {
      metrics[`rewards/${side}`] = s.rewards / s.rows;
      metrics[`logps/${side}`] = s.logps / s.rows;
    }
  }
  if (sums[0]!.rows > 0 && sums[1]!.rows > 0) metrics['rewards/margins'] = metrics['rewards/chosen']! - metrics['rewards/rejected']!;
  return metrics;
}

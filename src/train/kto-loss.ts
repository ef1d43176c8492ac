// The KTO loss family and its metrics, as TRL 1.13's KTOTrainer._compute_loss computes them from per-sequence
// completion log-probs (Model.completionLogProbs). The loss is cheap next to the forwards that give the log-probs,
// so it lives here, and the recipe back-propagates it as dLoss/dlogps (completionLogProbs' gradOutput).
import type { CompletionLogProbs } from '../model.js';

export interface KtoLossOptions {
  beta: number;
  loss_type: 'kto' | 'apo_zero_unpaired';
  desirable_weight: number;
  undesirable_weight: number;
}

/** All (B): the policy's and the reference's completion log-probs, and each row's label (1 desirable). */
export interface KtoLossInputs {
  logps: Float32Array;
  refLogps: Float32Array;
  labels: Uint8Array;
  /** The detached KL reference point (klEstimate); 0 for apo_zero_unpaired. */
  kl: number;
}

export interface KtoLoss {
  loss: number;
  /** dLoss/dlogps per row. */
  gradLogps: Float32Array;
  /** β · (logps − refLogps) per row, detached. */
  rewards: Float32Array;
}

const f = Math.fround;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

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
 * KTO (Ethayarajh et al. 2024, https://arxiv.org/abs/2402.01306, Eq. 7): a desirable completion's reward
 * r = β · log(π/π_ref) is pushed above the reference point β · KL, an undesirable one below it, each through a
 * sigmoid value function: 1 − σ(r − β·KL) and 1 − σ(β·KL − r). apo_zero_unpaired (D'Oosterlinck et al. 2024,
 * https://arxiv.org/abs/2408.06266, Eq. 7 unpaired) drops the reference point: 1 − σ(r) and σ(r). Losses are
 * weighted by desirable_weight / undesirable_weight and averaged over the rows (TRL's losses.nanmean()).
 */
export function ktoLoss(inputs: KtoLossInputs, options: KtoLossOptions): KtoLoss {
  const { logps, refLogps, labels, kl } = inputs;
  const { beta, loss_type: lossType } = options;
  const rows = logps.length;
  const gradLogps = new Float32Array(rows);
  const rewards = new Float32Array(rows);
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const logratio = f(logps[i]! - refLogps[i]!);
    rewards[i] = f(beta) * logratio;
    const desirable = labels[i] === 1;
    const weight = desirable ? options.desirable_weight : options.undesirable_weight;
    // The loss of each row is 1 − σ(s·z) with dz/dlogps = β: s = +1 for a desirable row, −1 for an undesirable
    // one; apo_zero_unpaired's σ(z) of an undesirable row is that too (σ(z) = 1 − σ(−z)).
    const sign = desirable ? 1 : -1;
    const z = beta * (lossType === 'kto' ? logratio - kl : logratio);
    const s = sigmoid(sign * z);
    loss += (weight * (1 - s)) / rows;
    gradLogps[i] = (-sign * weight * beta * s * (1 - s)) / rows;
  }
  return { loss, gradLogps, rewards };
}

/**
 * TRL's metrics of one batch: kl; entropy over all completion tokens; logits/, rewards/ and logps/ for chosen
 * (desirable) and rejected rows, each only when the batch has such rows (tokens); rewards/margins when it has both.
 */
export function ktoMetrics(lp: CompletionLogProbs, labels: Uint8Array, rewards: Float32Array, kl: number): Record<string, number> {
  const sums = [0, 1].map((label) => {
    const s = { rows: 0, tokens: 0, meanLogit: 0, rewards: 0, logps: 0 };
    labels.forEach((l, i) => {
      if (l !== label) return;
      s.rows++;
      s.tokens += lp.tokens[i]!;
      s.meanLogit += lp.meanLogit[i]!;
      s.rewards += rewards[i]!;
      s.logps += lp.logps[i]!;
    });
    return s;
  });
  const tokens = lp.tokens.reduce((a, b) => a + b, 0);
  const metrics: Record<string, number> = { kl, entropy: tokens > 0 ? lp.entropy.reduce((a, b) => a + b, 0) / tokens : 0 };
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

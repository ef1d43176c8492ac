// KTO's KL reference point, what TRL 1.13's KTOTrainer._compute_loss computes before the loss (native/train/kto_loss.h
// takes it as an input; the step's kl metric is this value, native/train/kto_step.cpp).
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

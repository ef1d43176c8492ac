// Model.orpoStep and cpoStep (TRL 1.13's experimental ORPOTrainer / CPOTrainer): their options under TRL's names and
// their result. The micro-batch is a DpoBatch: [chosen..., rejected...] rows, right padded.
import type { ConfigOf } from '../config/schema.js';
import type { cpoSchema, orpoSchema } from '../config/orpo-fields.js';
import type { ForwardOptions, KernelOptions } from './model.js';
import type { StepMetricParts } from './steps.js';

/** How a step treats its gradient, as DpoStepOptions. */
interface BackwardOptions {
  /** Accumulate the loss's gradient into the policy. Default true; false runs the policy without autograd (eval). */
  backward?: boolean;
  /** The gradient accumulated is that of `lossScale · loss`. Default 1; the returned loss is never scaled. */
  lossScale?: number;
  /** With the model in a data-parallel group, average this backward's gradients over the ranks. Default true. */
  syncGradients?: boolean;
}

/** ORPOConfig's loss field; unset: TRL 1.13's default. */
export type OrpoLossOptions = Partial<Pick<ConfigOf<typeof orpoSchema>, 'beta'>>;
export interface OrpoStepOptions extends OrpoLossOptions, ForwardOptions, KernelOptions, BackwardOptions {}

/** CPOConfig's loss fields; unset: TRL 1.13's defaults. The native catalogue (`cpoLossCatalogue()`) checks them. */
export type CpoLossOptions = Partial<
  Pick<ConfigOf<typeof cpoSchema>, 'beta' | 'label_smoothing' | 'loss_type' | 'cpo_alpha' | 'simpo_gamma' | 'alpha'>
>;
export interface CpoStepOptions extends CpoLossOptions, ForwardOptions, KernelOptions, BackwardOptions {}

/**
 * The metrics TRL's CPOTrainer.get_batch_loss_metrics appends for one micro-batch; ORPO adds log_odds_ratio and
 * log_odds_chosen. logits/ are the mean over every position of the side's rows (padding included, as TRL takes them).
 */
export interface ReferenceFreeMetrics {
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/accuracies': number;
  'rewards/margins': number;
  'logps/rejected': number;
  'logps/chosen': number;
  'logits/rejected': number;
  'logits/chosen': number;
  nll_loss: number;
  log_odds_ratio?: number;
  log_odds_chosen?: number;
  num_tokens: number;
}

export interface ReferenceFreeStepResult extends StepMetricParts {
  /** ORPO: nll − β·mean log σ(log odds ratio); CPO: mean(loss_type's losses) + cpo_alpha · nll. */
  loss: number;
  /** The parts reduced (src/train/metrics.ts). */
  metrics: ReferenceFreeMetrics;
}

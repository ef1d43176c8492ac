// Model.bcoStep and Model.listwiseStep: each one's micro-batch, options (under TRL's names) and result.
import type { ConfigOf } from '../config/schema.js';
import type { bcoSchema } from '../config/bco-fields.js';
import type { ForwardOptions, KernelOptions } from './model.js';
import type { DpoBatch, KtoBatch, StepMetricParts } from './steps.js';

/** How a preference step treats its gradient (as KtoStepOptions). */
interface StepGradient {
  /** Accumulate the loss's gradient into the policy. Default true; false runs the policy without autograd (eval). */
  backward?: boolean;
  /** The gradient accumulated is that of `lossScale · loss`. Default 1; the returned loss is never scaled. */
  lossScale?: number;
  /** With the model in a data-parallel group, average this backward's gradients over the ranks. Default true. */
  syncGradients?: boolean;
}

// BCO

/** BCO's batch is KTO's: padded rows and each row's label (1 desirable). */
export type BcoBatch = KtoBatch;

/** TRL's RunningMoments: the running mean (δ), std and variance of every reward trained on, and how many. */
export interface RunningMoments {
  mean: number;
  std: number;
  var: number;
  count: number;
}

/** BCOConfig's loss field under its TRL name; unset: TRL 1.13's default. */
export type BcoLossOptions = Partial<Pick<ConfigOf<typeof bcoSchema>, 'beta'>>;

export interface BcoStepOptions extends BcoLossOptions, ForwardOptions, KernelOptions, StepGradient {
  /** The running moments before this batch. Default: RunningMoments' initial state (mean 0, count 1e-24). */
  running?: RunningMoments;
  /**
   * Fold this batch's rewards into `running` before the loss reads its mean (training; over every rank of the
   * model's process group). Default true; false (evaluation) reads δ as it is.
   */
  update?: boolean;
}

/** BCOTrainer's metrics of one micro-batch: δ; a side's (chosen: desirable rows) only when it has rows. */
export type BcoMetrics = { delta: number } & Partial<
  Record<
    | 'rewards/chosen'
    | 'logps/chosen'
    | 'logits/chosen'
    | 'rewards/rejected'
    | 'logps/rejected'
    | 'logits/rejected'
    | 'rewards/margins',
    number
  >
>;

export interface BcoStepResult extends StepMetricParts {
  /** nanmean of −log σ(r − δ) over desirable rows and −log σ(−(r − δ)) over the others. */
  loss: number;
  metrics: BcoMetrics;
  /** β · (policy − reference) log-ratio per row. */
  rewards: Float32Array;
  logps: Float32Array;
  /** The running moments after this batch (unchanged when update is false). */
  running: RunningMoments;
  /** δ, the running mean the loss used (float32, as TRL's tensor). */
  delta: number;
}

// Listwise (Plackett–Luce over a ranking)

/** Rows of several prompts' answers: each prompt's answers contiguous and best first. */
export interface ListwiseBatch extends DpoBatch {
  /** Answers per prompt (each at least 2); they add up to the rows. */
  groupSizes: number[];
}

export interface ListwiseStepOptions extends ForwardOptions, KernelOptions, StepGradient {
  /** The log-ratio scale of the rewards r = β·(log π − log π_ref). Default 0.1. */
  beta?: number;
  /** One loss weight per prompt: the loss is Σ w·loss / Σ w (all_pairs weighted by score gap). Default: equal. */
  weights?: Float32Array;
}

export interface ListwiseMetrics {
  /** Each prompt's best answer's reward, its worst's, their difference and whether best > worst: means over prompts. */
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/accuracies': number;
  'rewards/margins': number;
  /** The share of answer pairs of a prompt whose rewards keep the order of their scores. */
  'rewards/ranking_accuracy': number;
  'logps/chosen': number;
  'logps/rejected': number;
  num_tokens: number;
}

export interface ListwiseStepResult extends StepMetricParts {
  /** Mean over prompts of Σ_k (logsumexp_{j≥k} r_j − r_k). */
  loss: number;
  metrics: ListwiseMetrics;
  rewards: Float32Array;
  logps: Float32Array;
}

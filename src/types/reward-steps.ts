// Model.rewardStep (TRL 1.13's RewardTrainer.compute_loss): its micro-batch, options under TRL's names and result.
import type { ConfigOf } from '../config/schema.js';
import type { rewardSchema } from '../config/reward-fields.js';
import type { ForwardOptions } from './model.js';
import type { StepMetricParts } from './steps.js';
import type { MaskRows, TokenRows } from './tensor.js';

/**
 * One reward micro-batch as TRL's reward DataCollatorForPreference lays it out: 2·pairs rows, the chosen ones first
 * (`[chosen_0..chosen_{P-1}, rejected_0..rejected_{P-1}]`), right padded with the pad token to `seqLen`.
 */
export interface RewardBatch {
  inputIds: TokenRows;
  attentionMask?: MaskRows;
  /** One per pair: subtracted from r_chosen − r_rejected inside the loss (the dataset's margin column). */
  margin?: Float32Array;
  /** Row length when the arrays are flat. */
  seqLen?: number;
}

export interface RewardStepOptions
  extends Partial<Pick<ConfigOf<typeof rewardSchema>, 'center_rewards_coefficient'>>, ForwardOptions {
  /** config.pad_token_id: each row's score is read at its rightmost token that is not this one (transformers' pooling). */
  pad_token_id?: number | null;
  /** Accumulate the loss's gradient into the model. Default true; false runs without autograd (eval). */
  backward?: boolean;
  /** The gradient accumulated is that of `lossScale · loss`. Default 1; the returned loss is never scaled. */
  lossScale?: number;
  /** With the model in a data-parallel group, average this backward's gradients over the ranks. Default true. */
  syncGradients?: boolean;
}

/** The metrics RewardTrainer.compute_loss records for one micro-batch, under its names. */
export interface RewardMetrics {
  min_reward: number;
  mean_reward: number;
  max_reward: number;
  accuracy: number;
  margin: number;
  num_tokens: number;
}

export interface RewardStepResult extends StepMetricParts {
  /** −mean log σ(r_c − r_r − margin) [+ center_rewards_coefficient · mean((r_c + r_r)²)]. */
  loss: number;
  /** The parts reduced (src/train/metrics.ts). */
  metrics: RewardMetrics;
  /** The score of each row (2·pairs), chosen rows first. */
  rewards: Float32Array;
}

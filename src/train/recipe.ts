// What a recipe (dpo.ts, sft.ts, kto.ts) hands the shared loop (trainer-loop.ts): its config, policy, optimizer,
// batches and step; and meanOverMicroBatches, the training_step of trainers whose loss takes no num_items_in_batch.
import type { TrainConfig } from '../config/load-config.js';
import type { EpochBatches } from '../data/epoch-batches.js';
import type { Model } from '../model.js';
import type { TrainerState } from './checkpoint.js';
import type { MetricRules, StepMetricParts } from './metrics.js';
import type { Optimizer } from './optimizer.js';

/** The TrainingArguments every recipe shares (the config of every trainer but online_dpo, which runs rounds of dpo). */
export type LoopConfig = Exclude<TrainConfig, { trainer: 'online_dpo' }>;

/**
 * What one micro-batch reports: the parts of TRL's metrics as its native step gives them, which the loop reduces
 * (metrics.ts), and num_tokens (attention tokens of this micro-batch); and its input tokens.
 */
export interface MicroBatchResult extends StepMetricParts {
  /** Tokens of input_ids, padding included (the Trainer's floating_point_ops counts them). */
  inputTokens: number;
}

export interface Recipe {
  config: LoopConfig;
  policy: Model;
  optimizer: Optimizer;
  /** The resumed checkpoint's trainer state, or null for a run from step 0. */
  resumed: TrainerState | null;
  resumeDir: string | null;
  /** The whole tables: the loop takes this rank's shard of each. */
  trainBatches: EpochBatches<unknown>;
  evalBatches: EpochBatches<unknown> | null;
  /**
   * One optimizer step's micro-batches: accumulate the gradient of the step's loss into the policy and return that
   * loss (what training_step returns, summed over the micro-batches) and each micro-batch's metrics.
   */
  trainStep(micro: number[][]): Promise<{ loss: number; micro: MicroBatchResult[] }>;
  /** One evaluation batch without gradients: its loss (the Trainer weights it by the batch's rows) and metrics. */
  evalStep(indices: number[]): Promise<StepMetricParts & { loss: number }>;
  /** After each optimizer step, before its log, evaluation and save (TRL's SyncRefModelCallback.on_step_end). */
  onStepEnd?(globalStep: number): Promise<void>;
  /** TRL's rules for the recipe's metrics beyond sum / count (metrics.ts METRIC_RULES). */
  metricRules: MetricRules;
  /** A second model checkpoints hold beside the policy (sync_ref_model's reference). */
  checkpointReference?: Model;
  /**
   * Writes what the recipe's tokenizer adds to a saved model folder (SFT: the chat template and eos_token), into
   * every checkpoint and the final model, so that each is a complete model_name_or_path.
   */
  saveTokenizerSettings?(dir: string): Promise<void>;
  /** Writes the recipe's own training state into a checkpoint folder (BCO's running.json), as the optimizer's is. */
  saveTrainingState?(dir: string): Promise<void>;
}

/** How a micro-batch's step treats its gradient. */
export interface MicroStep {
  /** The Trainer divides each micro-batch's loss by the micro-batches of the optimizer step. */
  lossScale: number;
  /**
   * Whether this backward averages the gradients over data-parallel ranks: only the step's last micro-batch does
   * (accelerate's no_sync on the others), carrying the accumulated sum.
   */
  syncGradients: boolean;
}

/**
 * training_step over an optimizer step's micro-batches for trainers whose loss takes no num_items_in_batch (TRL's
 * DPOTrainer and KTOTrainer set model_accepts_loss_kwargs = False): each micro-batch's loss scaled by 1 / their
 * count (`step` gets that lossScale for its gradient), summed.
 */
export async function meanOverMicroBatches<Batch extends { inputIds: ArrayLike<number> }>(
  micro: number[][],
  collate: (indices: number[]) => Batch,
  step: (
    batch: Batch,
    indices: number[],
    how: MicroStep,
  ) => Promise<Omit<MicroBatchResult, 'inputTokens'> & { loss: number }>,
): Promise<{ loss: number; micro: MicroBatchResult[] }> {
  let loss = 0;
  const results: MicroBatchResult[] = [];
  for (const [i, indices] of micro.entries()) {
    const b = collate(indices);
    const out = await step(b, indices, { lossScale: 1 / micro.length, syncGradients: i === micro.length - 1 });
    loss += out.loss / micro.length;
    results.push({ parts: out.parts, num_tokens: out.num_tokens, inputTokens: b.inputIds.length });
  }
  return { loss, micro: results };
}

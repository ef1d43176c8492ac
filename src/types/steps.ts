// Model.dpoStep, ktoStep and sftStep: each one's micro-batch, options (under TRL's names) and result.
import type { ConfigOf } from '../config/schema.js';
import type { dpoSchema, ktoSchema, sftSchema } from '../config/trainer-fields.js';
import type { ForwardOptions, KernelOptions } from './model.js';
import type { MaskRows, TokenRows } from './tensor.js';

// DPO

/**
 * One DPO micro-batch as TRL's DataCollatorForPreference lays it out: 2·pairs rows, the chosen completions
 * first (`[chosen_0..chosen_{P-1}, rejected_0..rejected_{P-1}]`), right padded to `seqLen`.
 */
export interface DpoBatch {
  inputIds: TokenRows;
  attentionMask?: MaskRows;
  /** 1 on completion tokens, 0 on prompt and padding. */
  completionMask: MaskRows;
  /** Row length when the arrays are flat. */
  seqLen?: number;
}

/**
 * DPOConfig's loss fields under their TRL names, as the config declares them (src/config/trainer-fields.ts); unset:
 * TRL 1.13's default. The loss types and the rules between the fields are the native catalogue's
 * (`dpoLossCatalogue()`): a refusal rejects the step with ERR_INVALID_ARG naming the keys.
 */
export type DpoLossOptions = Partial<
  Pick<
    ConfigOf<typeof dpoSchema>,
    | 'beta'
    | 'loss_type'
    | 'loss_weights'
    | 'label_smoothing'
    | 'use_weighting'
    | 'ld_alpha'
    | 'f_divergence_type'
    | 'f_alpha_divergence_coef'
    | 'discopop_tau'
  >
>;

export interface DpoStepOptions extends DpoLossOptions, ForwardOptions, KernelOptions {
  /** Accumulate the loss's gradient into the policy. Default true; false runs the policy without autograd (eval). */
  backward?: boolean;
  /**
   * The gradient accumulated is that of `lossScale · loss` (the Trainer divides each micro-batch's loss by the
   * micro-batches of its optimizer step). Default 1; the returned loss is never scaled.
   */
  lossScale?: number;
  /**
   * With the model in a data-parallel group, average this backward's gradients over the ranks. Default true; false
   * keeps them local (gradient-accumulation micro-steps, DDP's no_sync).
   */
  syncGradients?: boolean;
}

// Metrics

/** Per TRL metric name, the sum of its values over what it averages (pairs, rows, one side's tokens) and their count. */
export type MetricParts = Record<string, [sum: number, count: number]>;

/**
 * A step's metrics as the native side returns them (native/train/metric_parts.h): parts, never means, so that
 * micro-batches and data-parallel ranks reduce them as TRL does (src/train/metrics.ts).
 */
export interface StepMetricParts {
  parts: MetricParts;
  /** attention_mask.sum() of the micro-batch (SFT padding-free: the row length). */
  num_tokens: number;
}

/** The metrics TRL's DPOTrainer._compute_loss appends for one micro-batch, under its names. */
export interface DpoMetrics {
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/accuracies': number;
  'rewards/margins': number;
  'logps/chosen': number;
  'logps/rejected': number;
  'logits/chosen': number;
  'logits/rejected': number;
  entropy: number;
  mean_token_accuracy: number;
  num_tokens: number;
}

export interface DpoStepResult extends StepMetricParts {
  /** Σ loss_weights[i] · mean over pairs of loss_type[i]. */
  loss: number;
  /** The parts reduced (src/train/metrics.ts). */
  metrics: DpoMetrics;
  /** β · (policy − reference) log-ratio per pair, (pairs). */
  chosenRewards: Float32Array;
  rejectedRewards: Float32Array;
}

// KTO

/** One KTO micro-batch as TRL's DataCollatorForUnpairedPreference lays it out, with each row's label. */
export interface KtoBatch extends DpoBatch {
  /** 1 for a desirable row, 0 for an undesirable one. */
  labels: Uint8Array;
}

/** KTOConfig's loss fields under their TRL names, as the config declares them; unset: TRL 1.13's default. */
export type KtoLossOptions = Partial<
  Pick<ConfigOf<typeof ktoSchema>, 'beta' | 'loss_type' | 'desirable_weight' | 'undesirable_weight'>
>;

/** KTOConfig's loss fields and the batch's KL reference point. */
export interface KtoStepOptions extends KtoLossOptions, ForwardOptions, KernelOptions {
  /** The detached KL estimate of the batch (TRL's kl), clamped at 0; unused by apo_zero_unpaired. Default 0. */
  kl?: number;
  /** Accumulate the loss's gradient into the policy. Default true; false runs the policy without autograd (eval). */
  backward?: boolean;
  /** The gradient accumulated is that of `lossScale · loss`. Default 1; the returned loss is never scaled. */
  lossScale?: number;
  /**
   * With the model in a data-parallel group, average this backward's gradients over the ranks. Default true; false
   * keeps them local (gradient-accumulation micro-steps, DDP's no_sync).
   */
  syncGradients?: boolean;
}

/**
 * The metrics TRL's KTOTrainer._compute_loss appends for one micro-batch, under its names: a side's (chosen:
 * desirable rows) only when it has rows (logits/: completion tokens), rewards/margins only when both have.
 */
export type KtoMetrics = { kl: number; entropy: number; num_tokens: number; aux_loss?: number } & Partial<
  Record<
    | 'logits/chosen'
    | 'logits/rejected'
    | 'rewards/chosen'
    | 'logps/chosen'
    | 'rewards/rejected'
    | 'logps/rejected'
    | 'rewards/margins',
    number
  >
>;

/** One KTO micro-batch: the loss, TRL's metrics (kl: options.kl), and per row the rewards and the policy's log-probs. */
export interface KtoStepResult extends StepMetricParts {
  /** Mean over the rows of the weighted per-row losses (TRL's losses.nanmean()). */
  loss: number;
  /** The parts reduced (src/train/metrics.ts). */
  metrics: KtoMetrics;
  /** β · (policy − reference) log-ratio per row. */
  rewards: Float32Array;
  /** The policy's completion log-probs per row. */
  logps: Float32Array;
}

// SFT

/**
 * One SFT micro-batch as TRL's DataCollatorForLanguageModeling lays it out: padded rows with an attention mask, or
 * (padding-free) one row of concatenated sequences with position ids restarting at 0 for each and no mask.
 */
export interface SftBatch {
  inputIds: TokenRows;
  /** -100 where no loss is taken. */
  labels: TokenRows;
  attentionMask?: MaskRows | null;
  /** Per-sequence positions; without an attention mask, attention stays within each sequence. */
  positionIds?: TokenRows | null;
  /** Row length when the arrays are flat. */
  seqLen?: number;
}

/** SFTConfig's loss_type (null: chunked_nll; "dft" weights each token's -logp by its detached probability). */
export type SftLossOptions = Partial<Pick<ConfigOf<typeof sftSchema>, 'loss_type'>>;

export interface SftStepOptions extends SftLossOptions, ForwardOptions, KernelOptions {
  /**
   * transformers' num_items_in_batch: the loss is the summed token NLL divided by it (the label tokens of all the
   * micro-batches of the optimizer step). Default: this batch's label tokens (the mean).
   */
  numItemsInBatch?: number;
  /** Accumulate the loss's gradient into the parameters. Default true; false runs without autograd (eval). */
  backward?: boolean;
  /**
   * The gradient accumulated is that of `lossScale · loss`: data-parallel transformers counts num_items_in_batch
   * over every rank and scales each rank's loss by the world size. Default 1; the returned loss is never scaled.
   */
  lossScale?: number;
  /**
   * With the model in a data-parallel group, average this backward's gradients over the ranks. Default true; false
   * keeps them local (gradient-accumulation micro-steps, DDP's no_sync).
   */
  syncGradients?: boolean;
}

/** The metrics TRL's SFTTrainer.compute_loss records for one micro-batch, under its names. */
export interface SftMetrics {
  entropy: number;
  mean_token_accuracy: number;
  /** A MoE model with router_aux_loss_coef: the router's load-balancing loss (added × the coefficient to the loss). */
  aux_loss?: number;
  /** attention_mask.sum(), or the row length of a padding-free batch. */
  num_tokens: number;
}

export interface SftStepResult extends StepMetricParts {
  /** The summed token NLL divided by num_items_in_batch (default: this batch's label tokens). */
  loss: number;
  /** Label tokens of this batch (labels[:, 1:] != -100). */
  labelTokens: number;
  /** The parts reduced (src/train/metrics.ts). */
  metrics: SftMetrics;
}

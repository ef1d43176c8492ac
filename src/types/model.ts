// The types of loading, running and saving a model: load/save options, its config, how a forward runs, LoRA
// options, and completionLogProbs' options and result.
import type { TokenRows } from './tensor.js';

export type Dtype = 'float32' | 'bfloat16' | 'float16' | 'auto';
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export interface LoadModelOptions {
  /** Parameter dtype. `auto` takes config.json's `dtype`/`torch_dtype`. Default: float32 on CPU, auto on CUDA. */
  dtype?: Dtype;
  /** Default `cpu`. */
  device?: Device;
}

export interface SaveOptions {
  /** Largest shard in bytes, or a size such as `"5GB"`/`"500MB"` as transformers takes it. Default `"50GB"`. */
  maxShardSize?: number | string;
}

/** Architecture, dtype and device of a loaded model. */
export interface ModelConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tieWordEmbeddings: boolean;
  /** > 0 for a sequence-classification (reward) model: logits are (batch, seqLen, numLabels) from score.weight. */
  numLabels: number;
  ropeType: string;
  dtype: string;
  device: string;
  sourceDir: string;
  /** LoRA adapters are attached (training updates only them). */
  lora: boolean;
}

/**
 * How a forward runs: TrainingArguments' `bf16` and `gradient_checkpointing`, under those names. Weights, their
 * gradients and the optimizer stay in the model's dtype (float32) either way.
 */
export interface ForwardOptions {
  /**
   * Run the forward under bfloat16 autocast, as the HF Trainer does with `bf16: true` (`torch.autocast(device,
   * torch.bfloat16)`: matmuls, linear layers and attention in bfloat16, the rest as the model writes it, the
   * logits widened to float32 before the log-softmax). Default false.
   */
  bf16?: boolean;
  /**
   * Recompute each decoder layer in backward instead of keeping its activations (transformers' gradient
   * checkpointing): the same gradients for less memory and one more forward. Only forwards that record
   * gradients are affected. Default false.
   */
  gradient_checkpointing?: boolean;
  /**
   * With `gradient_checkpointing`, the decoder layers it applies to: one flag per layer (true: recomputed), as
   * `gradient_checkpointing_kwargs.every_n_layers` and `activation_memory_budget` choose them
   * (src/train/checkpointed-layers.ts). Default: every layer.
   */
  checkpointed_layers?: boolean[];
  /**
   * TRL's `router_aux_loss_coef`: on a Mixture-of-Experts model (Mixtral, Qwen3-MoE) a training step adds this
   * times the router's load-balancing loss (transformers' load_balancing_loss_func, over the attended tokens) to its
   * loss and logs it as `aux_loss`, as TRL's trainers do. 0 or a dense model: nothing. Default 0.
   */
  router_aux_loss_coef?: number;
}

/** The fused lm_head/log-prob kernel's tiling, and the plain path it is checked against. */
export interface KernelOptions {
  /** Rows (tokens) per tile of the fused log-prob kernel. Default 1024 on CPU, 2048 on CUDA. */
  rowChunk?: number;
  /** Vocabulary entries per tile of the fused log-prob kernel. Default 4096 on CPU, 32768 on CUDA. */
  vocabChunk?: number;
  /** Use the plain full-logits path (log_softmax + gather) instead of the fused kernel; for checking it. */
  reference?: boolean;
}

export interface BatchOptions extends Pick<ForwardOptions, 'bf16'> {
  /** Row length when `inputIds` is a flat typed array holding several rows. */
  seqLen?: number;
  /**
   * Explicit RoPE positions, (batch, seqLen); default 0..seqLen-1 for every row, as transformers does. Without an
   * attention mask, positions that restart split a row into packed sequences that do not attend to each other.
   */
  positionIds?: TokenRows;
}

/** LoRA on the decoder's linear layers, PEFT's LoraConfig fields by their PEFT names. */
export interface AddLoraOptions {
  /** Rank. Default 8. */
  r?: number;
  /** The update is scaled by lora_alpha / r (lora_alpha / √r with use_rslora). Default 8. */
  lora_alpha?: number;
  /** Dropout on each adapter's input while training. Default 0. */
  lora_dropout?: number;
  /** q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, all-linear, or module paths. Default q_proj, v_proj. */
  target_modules?: string[];
  /** Default false. */
  use_rslora?: boolean;
  /** A's initial draws are those of `torch.manual_seed(seed); get_peft_model(...)`. Default: an unseeded draw. */
  seed?: number;
}

/** PEFT's LoraConfig fields, under their PEFT names. */
export interface LoraOptions {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  use_rslora: boolean;
}

export interface CompletionLogProbsOptions extends ForwardOptions, KernelOptions {
  /** Row length when the inputs are flat typed arrays holding several rows. */
  seqLen?: number;
  /**
   * Back-propagate into the parameters' accumulated gradients: `sum_b gradOutput[b] * logps[b]`, i.e. the
   * gradient of `sum(logps)` unless `gradOutput` is given. Default false (no autograd graph is built).
   */
  backward?: boolean;
  /** dLoss/dlogps per sequence for a loss built from `logps` (e.g. DPO's); implies `backward`. */
  gradOutput?: Float32Array;
  /**
   * Also return `tailLogps`, LD-DPO's split: the batch is pairs `[chosen..., rejected...]` and a completion's
   * tail is its tokens past the shorter completion of its pair. Default false.
   */
  pairTail?: boolean;
  /** Run the base model: LoRA adapters off (PEFT's disable_adapter), as for a DPO reference. Default false. */
  adaptersOff?: boolean;
}

/** Per-sequence values, each of length batch. */
export interface CompletionLogProbs {
  /** Sum over the completion tokens of log p(token). */
  logps: Float32Array;
  /** Completion tokens that are predicted: completionMask[:, 1:].sum(1). */
  tokens: Int32Array;
  /** Sum over the completion tokens of the logits' mean over the vocabulary (TRL's logits/chosen, /rejected). */
  meanLogit: Float32Array;
  /** Sum over the completion tokens of the softmax entropy in nats (TRL's entropy). */
  entropy: Float32Array;
  /** Completion tokens whose highest logit is the token itself (TRL's mean_token_accuracy). */
  correct: Int32Array;
  /** With `pairTail`: the part of logps past the pair's shorter completion (LD-DPO's tail). */
  tailLogps?: Float32Array;
}

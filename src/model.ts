// The public model handle: load a Hugging Face folder, run it, train it, save it back.
import { AlignkitError, fromNative } from './errors.js';
import {
  native,
  type CompletionLogProbs,
  type DpoMetrics,
  type DpoStepResult,
  type IndexArray,
  type KtoStepResult, type LoraOptions, type NativeModel,
  type NativeModelConfig,
  type NativeTensor,
  type SftMetrics,
  type SftStepResult,
} from './native.js';
import type { DPO_LOSS_TYPES, F_DIVERGENCES, KTO_LOSS_TYPES } from './config/trainer-fields.js';
import { generate, generateTokenIds, type Generation, type Prompt } from './generate/generate.js';
import type { GenerateOptions, TokenGenerateOptions } from './generate/options.js';
import type { TokenGeneration } from './generate/token-generation.js';

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

/** Token ids as rows of equal length, or a flat array with `seqLen` (one row when omitted). */
export type TokenRows = Int32Array | number[][];
export type MaskRows = IndexArray | number[][];

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

export type { CompletionLogProbs, DpoMetrics, DpoStepResult, KtoStepResult, LoraOptions, SftMetrics, SftStepResult };

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
 * Reference log-probs precomputed per pair (TRL's ref_chosen_logps / ref_rejected_logps), a reference model, or
 * `'base'`: the policy itself with its LoRA adapters off (PEFT's reference, no second copy of the weights).
 */
export type DpoReference = Model | { chosen: Float32Array; rejected: Float32Array } | 'base';

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

/** DPOConfig's loss fields under their TRL names; defaults are TRL 1.13's. */
export interface DpoLossOptions {
  /** Default 0.1. */
  beta?: number;
  /** One or more of TRL's loss types; default `['sigmoid']`. */
  loss_type?: (typeof DPO_LOSS_TYPES)[number][];
  /** One weight per loss type; default all 1. */
  loss_weights?: number[] | null;
  /** Default 0 (robust, exo_pair, aot, aot_unpaired). */
  label_smoothing?: number;
  /** WPO weighting of each pair's loss. Default false. */
  use_weighting?: boolean;
  /** LD-DPO: log-probs of the tokens past the shorter completion of a pair are scaled by ld_alpha. Default null. */
  ld_alpha?: number | null;
  /** Default `reverse_kl` (standard DPO). */
  f_divergence_type?: (typeof F_DIVERGENCES)[number];
  /** Default 0.5. */
  f_alpha_divergence_coef?: number;
  /** Default 0.05. */
  discopop_tau?: number;
}

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

/** One KTO micro-batch as TRL's DataCollatorForUnpairedPreference lays it out, with each row's label. */
export interface KtoBatch extends DpoBatch {
  /** 1 for a desirable row, 0 for an undesirable one. */
  labels: Uint8Array;
}

/** KTOConfig's loss fields under their TRL names (defaults TRL 1.13's), and the batch's KL reference point. */
export interface KtoStepOptions extends ForwardOptions, KernelOptions {
  /** Default 0.1. */
  beta?: number;
  /** Default `kto`. */
  loss_type?: (typeof KTO_LOSS_TYPES)[number];
  /** Default 1. */
  desirable_weight?: number;
  /** Default 1. */
  undesirable_weight?: number;
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

export interface SftStepOptions extends ForwardOptions, KernelOptions {
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
  /**
   * TRL's loss_type "dft" (its use_token_scaling): each token's -logp is weighted by its probability, detached.
   * Default false (the NLL).
   */
  use_token_scaling?: boolean;
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

/** A dense float32 result and its shape, e.g. logits (batch, seqLen, vocab) in row-major order. */
export type Tensor = NativeTensor;
export type ModelConfig = NativeModelConfig;

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };

function parseSize(size: number | string): number {
  if (typeof size === 'number') return size;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]I?B|B)\s*$/i.exec(size);
  if (!match) throw new AlignkitError('ERR_INVALID_ARG', `maxShardSize: expected bytes or a size like "5GB", got ${JSON.stringify(size)}`);
  return Math.floor(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!);
}

interface Rows<T> {
  data: T;
  batch: number;
  seqLen: number;
}

function toRows(name: string, rows: TokenRows | MaskRows, seqLen: number | undefined): Rows<Int32Array | IndexArray> {
  if (!Array.isArray(rows)) {
    const len = seqLen ?? rows.length;
    if (len <= 0 || rows.length % len !== 0) {
      throw new AlignkitError('ERR_INVALID_ARG', `${name}: ${rows.length} values do not split into rows of seqLen ${len}`);
    }
    return { data: rows, batch: rows.length / len, seqLen: len };
  }
  const width = rows[0]?.length ?? 0;
  if (rows.length === 0 || width === 0) throw new AlignkitError('ERR_INVALID_ARG', `${name}: expected at least one non-empty row`);
  const data = new Int32Array(rows.length * width);
  rows.forEach((row, i) => {
    if (row.length !== width) throw new AlignkitError('ERR_INVALID_ARG', `${name}: row ${i} has ${row.length} values, row 0 has ${width}`);
    data.set(row, i * width);
  });
  return { data, batch: rows.length, seqLen: width };
}

function matching(name: string, rows: TokenRows | MaskRows | undefined, shape: Rows<unknown>) {
  if (rows === undefined) return null;
  const r = toRows(name, rows, shape.seqLen);
  if (r.batch !== shape.batch || r.seqLen !== shape.seqLen) {
    throw new AlignkitError('ERR_INVALID_ARG', `${name}: shape (${r.batch}, ${r.seqLen}) differs from inputIds (${shape.batch}, ${shape.seqLen})`);
  }
  return r.data;
}

/** A causal language model loaded from a Hugging Face folder into libtorch. */
export class Model {
  readonly #native: NativeModel;

  /** @internal use {@link loadModel} */
  constructor(handle: NativeModel) {
    this.#native = handle;
  }

  /** @internal the addon handle, for objects that work on this model (the optimizer). */
  nativeHandle(): NativeModel {
    return this.#native;
  }

  /** Architecture, dtype and device as loaded. */
  get config(): ModelConfig {
    return this.#native.config();
  }

  /** Parameter names (Hugging Face state-dict names) and shapes, in state-dict order, then the LoRA adapters' if any. */
  parameters(): { name: string; shape: number[] }[] {
    return this.#native.parameters();
  }

  /**
   * Logits (batch, seqLen, vocab) for a batch of token ids, computed off the JS thread without autograd.
   * `attentionMask` is 1 for real tokens and 0 for padding (left or right). Typed arrays are read in place:
   * do not modify them until the promise settles.
   */
  async logits(inputIds: TokenRows, attentionMask?: MaskRows, options: BatchOptions = {}): Promise<Tensor> {
    const ids = toRows('inputIds', inputIds, options.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', attentionMask, ids);
    const positions = matching('positionIds', options.positionIds, ids) as Int32Array | null;
    return this.#native.logits(ids.data, mask, positions, ids.batch, ids.seqLen, { bf16: options.bf16 }).catch(fromNative);
  }

  /**
   * Mean next-token cross-entropy over the real tokens (transformers' causal LM loss with padding ignored),
   * with its gradients accumulated into the parameters. Returns the loss.
   */
  async forwardBackward(inputIds: TokenRows, attentionMask?: MaskRows, options: { seqLen?: number } = {}): Promise<number> {
    const ids = toRows('inputIds', inputIds, options.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', attentionMask, ids);
    return this.#native.forwardBackward(ids.data, mask, ids.batch, ids.seqLen).catch(fromNative);
  }

  /**
   * Per-sequence log-probability of the completion tokens, as TRL's DPOTrainer computes it:
   * `selective_log_softmax(logits[:, :-1], inputIds[:, 1:])` where `completionMask[:, 1:]` is 1, summed over
   * each row; with the token counts and per-sequence sums behind TRL's metrics. On CPU the lm_head matmul is
   * fused into the log-softmax, chunk by chunk, so the (batch, seqLen, vocab) logits never exist.
   * With `backward` (or `gradOutput`), the gradient of `sum(gradOutput * logps)` (default: of `sum(logps)`) is
   * accumulated into the parameters.
   */
  async completionLogProbs(
    inputIds: TokenRows,
    attentionMask: MaskRows | undefined,
    completionMask: MaskRows,
    options: CompletionLogProbsOptions = {},
  ): Promise<CompletionLogProbs> {
    const ids = toRows('inputIds', inputIds, options.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', attentionMask, ids);
    const completion = matching('completionMask', completionMask, ids)!;
    if (options.gradOutput && options.gradOutput.length !== ids.batch) {
      throw new AlignkitError('ERR_INVALID_ARG', `gradOutput: ${options.gradOutput.length} values for a batch of ${ids.batch}`);
    }
    const { gradOutput, rowChunk, vocabChunk, reference, pairTail, bf16, gradient_checkpointing, adaptersOff } = options;
    const backward = options.backward ?? gradOutput !== undefined;
    return this.#native
      .completionLogProbs(ids.data, mask, completion, ids.batch, ids.seqLen, {
        backward, gradOutput, rowChunk, vocabChunk, reference, pairTail, bf16, gradient_checkpointing, adaptersOff,
      })
      .catch(fromNative);
  }

  /**
   * One DPO micro-batch at TRL 1.13 parity (DPOTrainer._compute_loss): this model is the policy, `reference`
   * is a second model (run without autograd) or precomputed reference log-probs per pair. The gradient of
   * `lossScale · loss` is accumulated into this model's parameters (unless `backward: false`); returns the loss
   * and the metrics TRL logs for the step.
   */
  async dpoStep(batch: DpoBatch, reference: DpoReference, options: DpoStepOptions = {}): Promise<DpoStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', batch.attentionMask, ids);
    const completion = matching('completionMask', batch.completionMask, ids)!;
    if (ids.batch % 2 !== 0) throw new AlignkitError('ERR_INVALID_ARG', `dpoStep: ${ids.batch} rows do not form [chosen, rejected] pairs`);
    const pairs = ids.batch / 2;
    if (reference !== 'base' && !(reference instanceof Model)) {
      for (const side of ['chosen', 'rejected'] as const) {
        if (reference[side].length !== pairs) {
          throw new AlignkitError('ERR_INVALID_ARG', `dpoStep: reference.${side} has ${reference[side].length} values for ${pairs} pairs`);
        }
      }
    }
    const ref = reference instanceof Model ? reference.nativeHandle() : reference;
    return this.#native.dpoStep(ids.data, mask, completion, ids.batch, ids.seqLen, ref, options).catch(fromNative);
  }

  /**
   * One KTO micro-batch at TRL 1.13 parity (KTOTrainer._compute_loss): this model is the policy, `refLogps` the
   * reference's log-probs of the rows and `options.kl` the batch's KL reference point, both computed beforehand
   * without autograd. The gradient of `lossScale · loss` is accumulated into this model's parameters (unless
   * `backward: false`); returns the loss, the rewards and the per-sequence values behind TRL's metrics.
   */
  async ktoStep(batch: KtoBatch, refLogps: Float32Array, options: KtoStepOptions = {}): Promise<KtoStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', batch.attentionMask, ids);
    const completion = matching('completionMask', batch.completionMask, ids)!;
    for (const [name, values] of [['labels', batch.labels], ['refLogps', refLogps]] as const) {
      if (values.length !== ids.batch) throw new AlignkitError('ERR_INVALID_ARG', `ktoStep: ${name} has ${values.length} values for ${ids.batch} rows`);
    }
    return this.#native.ktoStep(ids.data, mask, completion, ids.batch, ids.seqLen, batch.labels, refLogps, options).catch(fromNative);
  }

  /**
   * One SFT micro-batch at TRL 1.13 parity (SFTTrainer.compute_loss, loss_type "nll"): the causal LM loss of
   * `labels` through the fused lm_head kernel (no full-vocabulary logits), its gradient accumulated into the
   * parameters (unless `backward: false`), and TRL's entropy, mean_token_accuracy and num_tokens.
   */
  async sftStep(batch: SftBatch, options: SftStepOptions = {}): Promise<SftStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const labels = matching('labels', batch.labels, ids) as Int32Array;
    const mask = matching('attentionMask', batch.attentionMask ?? undefined, ids);
    const positions = matching('positionIds', batch.positionIds ?? undefined, ids) as Int32Array | null;
    return this.#native.sftStep(ids.data, mask, positions, labels, ids.batch, ids.seqLen, options).catch(fromNative);
  }

  /**
   * Continues a prompt (text, or a conversation given the chat template with the assistant header), or a batch of
   * them in one left-padded batch, off the JS thread with a KV cache: greedy by default, sampled with `do_sample`;
   * each stops at an EOS token, a stop string or `max_new_tokens`. Defaults come from the folder's
   * generation_config.json (see {@link GenerateOptions}); the folder's tokenizer is used unless one is given.
   */
  generate(input: Prompt, options?: GenerateOptions): Promise<Generation>;
  generate(input: Prompt[], options?: GenerateOptions): Promise<Generation[]>;
  async generate(input: Prompt | Prompt[], options: GenerateOptions = {}): Promise<Generation | Generation[]> {
    return generate(this, input, options);
  }

  /**
   * Continues prompts given as token ids, in one left-padded batch, with no tokenizer: greedy output equals
   * transformers' `generate(input_ids, attention_mask, do_sample=False)` token for token.
   */
  async generateTokenIds(prompts: number[][], options: TokenGenerateOptions = {}): Promise<TokenGeneration[]> {
    return generateTokenIds(this, prompts, options);
  }

  /** Accumulated gradients as float32, by parameter name; parameters without one are left out. */
  async gradients(): Promise<Map<string, Tensor>> {
    const grads = await this.#native.gradients().catch(fromNative);
    return new Map(grads.map(({ name, data, shape }) => [name, { data, shape }]));
  }

  /** Drops all accumulated gradients. */
  async zeroGrad(): Promise<void> {
    await this.#native.zeroGrad().catch(fromNative);
  }

  /**
   * Moves this model's parameters toward `source`'s, in place: `this ← (1 − alpha)·this + alpha·source`
   * (TR-DPO's reference update, TRL's SyncRefModelCallback). Both must have the same architecture, dtype and
   * device; `alpha` in [0, 1].
   */
  async mixParameters(source: Model, alpha: number): Promise<void> {
    await this.#native.mixParameters(source.nativeHandle(), alpha).catch(fromNative);
  }

  /**
   * Writes a Hugging Face folder: config.json (dtype updated), safetensors weights, and the tokenizer and
   * generation files of the folder the model came from. `AutoModelForCausalLM.from_pretrained(dir)` loads it.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    await this.#native.save(dir, parseSize(options.maxShardSize ?? '50GB')).catch(fromNative);
  }

  /**
   * Attaches fresh LoRA adapters with PEFT's initialisation (A Kaiming-uniform, B zeros, so the model is unchanged
   * until trained). From then on only the adapters require gradients, get optimizer state and are reported by
   * {@link gradients}; the base weights stay frozen.
   */
  async addLora(options: AddLoraOptions = {}): Promise<void> {
    const { seed, ...rest } = options;
    const lora: LoraOptions & { seed?: number } = {
      r: rest.r ?? 8, lora_alpha: rest.lora_alpha ?? 8, lora_dropout: rest.lora_dropout ?? 0,
      target_modules: rest.target_modules ?? ['q_proj', 'v_proj'], use_rslora: rest.use_rslora ?? false,
    };
    if (seed !== undefined) {
      if (!Number.isSafeInteger(seed) || seed < 0) throw new AlignkitError('ERR_INVALID_ARG', `seed: expected a non-negative integer, got ${seed}`);
      lora.seed = seed;
    }
    await this.#native.attachLora(lora).catch(fromNative);
  }

  /** Attaches the LoRA adapter of a PEFT folder (adapter_config.json + adapter_model.safetensors), e.g. to train on. */
  async loadAdapter(dir: string): Promise<void> {
    await this.#native.loadAdapter(dir).catch(fromNative);
  }

  /**
   * Turns LoRA dropout off for good, as TRL's disable_dropout_in_model sets every dropout's p to 0; the adapter's
   * config (and {@link saveAdapter}'s adapter_config.json) keeps its lora_dropout.
   */
  async disableDropout(): Promise<void> {
    await this.#native.disableDropout().catch(fromNative);
  }

  /**
   * Writes the LoRA adapters as PEFT does (adapter_config.json + adapter_model.safetensors):
   * `PeftModel.from_pretrained(base, dir)` loads them.
   */
  async saveAdapter(dir: string): Promise<void> {
    await this.#native.saveAdapter(dir).catch(fromNative);
  }

  /** Folds the adapters into the weights (W += scaling · B A, PEFT's merge_and_unload); {@link save} then writes a full model. */
  async mergeLora(): Promise<void> {
    await this.#native.mergeLora().catch(fromNative);
  }

  /**
   * Frees the weights and gradients now (after the calls in flight); any later call throws. The garbage collector
   * sees only this small handle, so without it a dropped model can keep its memory (host or GPU) for a long time.
   */
  async dispose(): Promise<void> {
    await this.#native.dispose().catch(fromNative);
  }
}

/** Loads a Hugging Face causal LM folder (Llama, Mistral, Qwen2, Qwen3) off the JS thread. */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const handle = await native().NativeModel.load(dir, { dtype: options.dtype, device: options.device }).catch(fromNative);
  return new Model(handle);
}

// The public model handle: load a Hugging Face folder, run it, train it, save it back.
import { matching, toRows, type Rows } from './batch-rows.js';
import { AlignkitError, fromNative } from './errors.js';
import { generateText, generateFromTokenIds, type Generation, type Prompt } from './generate/generate.js';
import type { GenerateOptions, TokenGenerateOptions } from './generate/options.js';
import type { TokenGeneration } from './generate/token-generation.js';
import { parseSize } from './io/shard-size.js';
import { native, type NativeModel } from './native.js';
import type {
  AddLoraOptions,
  BatchOptions,
  CompletionLogProbs,
  CompletionLogProbsOptions,
  LoadModelOptions,
  LoraOptions,
  ModelConfig,
  SaveOptions,
} from './types/model.js';
import { METRIC_RULES, stepMetrics } from './train/metrics.js';
import type {
  DpoBatch,
  DpoMetrics,
  DpoStepOptions,
  DpoStepResult,
  KtoBatch,
  KtoMetrics,
  KtoStepOptions,
  KtoStepResult,
  SftBatch,
  SftMetrics,
  SftStepOptions,
  SftStepResult,
} from './types/steps.js';
import type {
  CpoStepOptions,
  OrpoStepOptions,
  ReferenceFreeMetrics,
  ReferenceFreeStepResult,
} from './types/reference-free-steps.js';
import type { MaskRows, Tensor, TokenRows } from './types/tensor.js';
import type { RewardBatch, RewardMetrics, RewardStepOptions, RewardStepResult } from './types/reward-steps.js';
import type {
  BcoBatch,
  BcoMetrics,
  BcoStepOptions,
  BcoStepResult,
  ListwiseBatch,
  ListwiseMetrics,
  ListwiseStepOptions,
  ListwiseStepResult,
} from './types/bco-steps.js';

/**
 * Reference log-probs precomputed per pair (TRL's ref_chosen_logps / ref_rejected_logps), a reference model, or
 * `'base'`: the policy itself with its LoRA adapters off (PEFT's reference, no second copy of the weights).
 */
export type DpoReference = Model | { chosen: Float32Array; rejected: Float32Array } | 'base';

/** An unpaired batch's rows and masks (ktoStep, bcoStep), its labels and reference log-probs checked one per row. */
function unpairedRows(step: string, batch: KtoBatch, refLogps: Float32Array) {
  const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
  const mask = matching('attentionMask', batch.attentionMask, ids);
  const completion = matching('completionMask', batch.completionMask, ids)!;
  for (const [name, values] of [
    ['labels', batch.labels],
    ['refLogps', refLogps],
  ] as const) {
    if (values.length !== ids.batch)
      throw new AlignkitError('ERR_INVALID_ARG', `${step}: ${name} has ${values.length} values for ${ids.batch} rows`);
  }
  return { ids, mask, completion };
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
    return this.#native
      .logits(ids.data, mask, positions, ids.batch, ids.seqLen, { bf16: options.bf16 })
      .catch(fromNative);
  }

  /**
   * Mean next-token cross-entropy over the real tokens (transformers' causal LM loss with padding ignored),
   * with its gradients accumulated into the parameters. Returns the loss.
   */
  async forwardBackward(
    inputIds: TokenRows,
    attentionMask?: MaskRows,
    options: { seqLen?: number } = {},
  ): Promise<number> {
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
      throw new AlignkitError(
        'ERR_INVALID_ARG',
        `gradOutput: ${options.gradOutput.length} values for a batch of ${ids.batch}`,
      );
    }
    const {
      gradOutput,
      rowChunk,
      vocabChunk,
      reference,
      pairTail,
      bf16,
      gradient_checkpointing,
      checkpointed_layers,
      router_aux_loss_coef,
      adaptersOff,
    } = options;
    const backward = options.backward ?? gradOutput !== undefined;
    return this.#native
      .completionLogProbs(ids.data, mask, completion, ids.batch, ids.seqLen, {
        backward,
        gradOutput,
        rowChunk,
        vocabChunk,
        reference,
        pairTail,
        bf16,
        gradient_checkpointing,
        checkpointed_layers,
        router_aux_loss_coef,
        adaptersOff,
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
    if (ids.batch % 2 !== 0)
      throw new AlignkitError('ERR_INVALID_ARG', `dpoStep: ${ids.batch} rows do not form [chosen, rejected] pairs`);
    const pairs = ids.batch / 2;
    if (reference !== 'base' && !(reference instanceof Model)) {
      for (const side of ['chosen', 'rejected'] as const) {
        if (reference[side].length !== pairs) {
          throw new AlignkitError(
            'ERR_INVALID_ARG',
            `dpoStep: reference.${side} has ${reference[side].length} values for ${pairs} pairs`,
          );
        }
      }
    }
    const ref = reference instanceof Model ? reference.nativeHandle() : reference;
    const out = await this.#native
      .dpoStep(ids.data, mask, completion, ids.batch, ids.seqLen, ref, options)
      .catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.dpo) as unknown as DpoMetrics };
  }

  /**
   * One KTO micro-batch at TRL 1.13 parity (KTOTrainer._compute_loss): this model is the policy, `refLogps` the
   * reference's log-probs of the rows and `options.kl` the batch's KL reference point, both computed beforehand
   * without autograd. The gradient of `lossScale · loss` is accumulated into this model's parameters (unless
   * `backward: false`); returns the loss, TRL's metrics and each row's reward and log-prob.
   */
  async ktoStep(batch: KtoBatch, refLogps: Float32Array, options: KtoStepOptions = {}): Promise<KtoStepResult> {
    const { ids, mask, completion } = unpairedRows('ktoStep', batch, refLogps);
    const out = await this.#native
      .ktoStep(ids.data, mask, completion, ids.batch, ids.seqLen, batch.labels, refLogps, options)
      .catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.kto) as KtoMetrics };
  }

  /**
   * One BCO micro-batch at TRL 1.13 parity (trl.experimental BCOTrainer.get_batch_loss_metrics): `refLogps` (one per
   * row) are the reference's log-probs, computed before without autograd; `options.running` the running reward
   * moments, which the step updates with this batch's rewards (unless `update: false`) before the loss reads δ.
   */
  async bcoStep(batch: BcoBatch, refLogps: Float32Array, options: BcoStepOptions = {}): Promise<BcoStepResult> {
    const { ids, mask, completion } = unpairedRows('bcoStep', batch, refLogps);
    const out = await this.#native
      .bcoStep(ids.data, mask, completion, ids.batch, ids.seqLen, batch.labels, refLogps, options)
      .catch(fromNative);
    // One micro-batch's means; the trainer pools the sums over its logging window (METRIC_RULES.bco).
    const metrics = stepMetrics(out, { ...METRIC_RULES.kto, differences: METRIC_RULES.bco.differences });
    return { ...out, metrics: metrics as BcoMetrics };
  }

  /**
   * One listwise micro-batch: the Plackett–Luce loss over each prompt's ranked answers (native/train/listwise_loss.h),
   * `batch.groupSizes` answers per prompt, best first; `refLogps` one per row.
   */
  async listwiseStep(
    batch: ListwiseBatch,
    refLogps: Float32Array,
    options: ListwiseStepOptions = {},
  ): Promise<ListwiseStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', batch.attentionMask, ids);
    const completion = matching('completionMask', batch.completionMask, ids)!;
    const rows = batch.groupSizes.reduce((a, b) => a + b, 0);
    if (rows !== ids.batch || refLogps.length !== ids.batch)
      throw new AlignkitError(
        'ERR_INVALID_ARG',
        `listwiseStep: ${ids.batch} rows, groupSizes adding up to ${rows} and ${refLogps.length} refLogps`,
      );
    const out = await this.#native
      .listwiseStep(ids.data, mask, completion, ids.batch, ids.seqLen, batch.groupSizes, refLogps, options)
      .catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.dpo) as unknown as ListwiseMetrics };
  }

  /**
   * One ORPO micro-batch at TRL 1.13 parity (trl.experimental ORPOTrainer.get_batch_loss_metrics): reference-free,
   * `batch` holds [chosen..., rejected...] rows. The gradient of `lossScale · loss` is accumulated into this model's
   * parameters (unless `backward: false`); returns the loss and the metrics TRL logs.
   */
  async orpoStep(batch: DpoBatch, options: OrpoStepOptions = {}): Promise<ReferenceFreeStepResult> {
    return this.#referenceFreeStep('orpoStep', batch, options);
  }

  /** One CPO micro-batch (loss_type sigmoid, hinge, ipo or simpo) at TRL 1.13 parity, as {@link Model.orpoStep}. */
  async cpoStep(batch: DpoBatch, options: CpoStepOptions = {}): Promise<ReferenceFreeStepResult> {
    return this.#referenceFreeStep('cpoStep', batch, options);
  }

  async #referenceFreeStep(
    step: 'orpoStep' | 'cpoStep',
    batch: DpoBatch,
    options: OrpoStepOptions & CpoStepOptions,
  ): Promise<ReferenceFreeStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', batch.attentionMask, ids);
    const completion = matching('completionMask', batch.completionMask, ids)!;
    if (ids.batch % 2 !== 0)
      throw new AlignkitError('ERR_INVALID_ARG', `${step}: ${ids.batch} rows do not form [chosen, rejected] pairs`);
    const out = await this.#native[step](ids.data, mask, completion, ids.batch, ids.seqLen, options).catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.referenceFree) as unknown as ReferenceFreeMetrics };
  }

  /**
   * One reward-model micro-batch at TRL 1.13 parity (RewardTrainer.compute_loss) on a *ForSequenceClassification
   * model with one label: each row's score at its last non-pad token, the Bradley–Terry loss of the chosen rows over
   * the rejected ones (minus `batch.margin`), its gradient accumulated into the parameters (unless `backward: false`),
   * and TRL's metrics.
   */
  async rewardStep(batch: RewardBatch, options: RewardStepOptions = {}): Promise<RewardStepResult> {
    const ids = toRows('inputIds', batch.inputIds, batch.seqLen) as Rows<Int32Array>;
    const mask = matching('attentionMask', batch.attentionMask, ids);
    if (ids.batch % 2 !== 0)
      throw new AlignkitError('ERR_INVALID_ARG', `rewardStep: ${ids.batch} rows do not form [chosen, rejected] pairs`);
    if (batch.margin && batch.margin.length !== ids.batch / 2)
      throw new AlignkitError(
        'ERR_INVALID_ARG',
        `rewardStep: margin has ${batch.margin.length} values for ${ids.batch / 2} pairs`,
      );
    const out = await this.#native
      .rewardStep(ids.data, mask, ids.batch, ids.seqLen, batch.margin ?? null, options)
      .catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.reward) as unknown as RewardMetrics };
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
    const out = await this.#native
      .sftStep(ids.data, mask, positions, labels, ids.batch, ids.seqLen, options)
      .catch(fromNative);
    return { ...out, metrics: stepMetrics(out, METRIC_RULES.sft) as unknown as SftMetrics };
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
    return generateText(this.#native, input, options);
  }

  /**
   * Continues prompts given as token ids, in one left-padded batch, with no tokenizer: greedy output equals
   * transformers' `generate(input_ids, attention_mask, do_sample=False)` token for token.
   */
  async generateTokenIds(prompts: number[][], options: TokenGenerateOptions = {}): Promise<TokenGeneration[]> {
    return generateFromTokenIds(this.#native, prompts, options);
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
      r: rest.r ?? 8,
      lora_alpha: rest.lora_alpha ?? 8,
      lora_dropout: rest.lora_dropout ?? 0,
      target_modules: rest.target_modules ?? ['q_proj', 'v_proj'],
      use_rslora: rest.use_rslora ?? false,
    };
    if (seed !== undefined) {
      if (!Number.isSafeInteger(seed) || seed < 0)
        throw new AlignkitError('ERR_INVALID_ARG', `seed: expected a non-negative integer, got ${seed}`);
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

/** Loads a Hugging Face causal LM folder (Llama, Mistral, Qwen2/3, Granite, OLMo 2, SmolLM3, Gemma 2/3, Phi-3) off the JS thread. */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const handle = await native()
    .NativeModel.load(dir, { dtype: options.dtype, device: options.device })
    .catch(fromNative);
  return new Model(handle);
}

/**
 * Continues one prompt, or a batch of them (left padded, one forward per step), with `model`: {@link Model.generate}.
 * A chat prompt (Message[]) gets the tokenizer's chat template with the assistant header appended.
 */
export function generate(model: Model, input: Prompt, options?: GenerateOptions): Promise<Generation>;
export function generate(model: Model, input: Prompt[], options?: GenerateOptions): Promise<Generation[]>;
export function generate(
  model: Model,
  input: Prompt | Prompt[],
  options?: GenerateOptions,
): Promise<Generation | Generation[]>;
export function generate(
  model: Model,
  input: Prompt | Prompt[],
  options: GenerateOptions = {},
): Promise<Generation | Generation[]> {
  return generateText(model.nativeHandle(), input, options);
}

/** Continues prompts given as token ids, with no tokenizer: {@link Model.generateTokenIds}. */
export function generateTokenIds(
  model: Model,
  prompts: number[][],
  options: TokenGenerateOptions = {},
): Promise<TokenGeneration[]> {
  return generateFromTokenIds(model.nativeHandle(), prompts, options);
}

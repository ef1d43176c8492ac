// AdamW over a model's parameters, as transformers' Trainer builds it: weight decay on every parameter except
// biases and norm weights (Trainer.get_decay_parameter_names), torch.optim.AdamW's update (fused, as
// TrainingArguments' default optim adamw_torch_fused, or torch's single-tensor loop for adamw_torch), and
// clip_grad_norm_ for max_grad_norm. The math lives in native/train/adamw.cpp; with zero_stage 1 the state is
// sharded over the data-parallel ranks (native/distributed/sharded_adamw.cpp), with zero_stage 2 the gradients too
// (each reduced to its owner only: native/distributed/gradient_reducer.cpp), with zero_stage 3 the parameters
// themselves (gathered per decoder layer for forward and backward: native/distributed/full_shard.cpp).
import type { OPTIMIZERS } from '../config/training-fields.js';
import type { DataParallel } from '../distributed/data-parallel.js';
import { AlignkitError, fromNative } from '../errors.js';
import type { Model } from '../model.js';
import { native, type NativeOptimizer } from '../native.js';

export type OptimizerName = (typeof OPTIMIZERS)[number];

/** TrainingArguments' optimizer fields, by their TRL/HF names; defaults are TrainingArguments' own. */
export interface AdamWOptions {
  /**
   * Default 'adamw_torch_fused': torch.optim.AdamW(fused=True), torch's one-pass kernel; 'adamw_torch' is
   * AdamW(fused=False). The same update, up to rounding.
   */
  optim?: OptimizerName;
  /** The rate {@link Optimizer.step} uses when given none (normally the scheduler passes one). */
  learning_rate?: number;
  /** Default 0.9. */
  adam_beta1?: number;
  /** Default 0.999. */
  adam_beta2?: number;
  /** Default 1e-8. */
  adam_epsilon?: number;
  /** Decoupled weight decay of the decay group (biases and norm weights get none). Default 0. */
  weight_decay?: number;
}

/**
 * ZeRO over a data-parallel group: each rank keeps the AdamW state of about 1/world size of the parameters (stage
 * 1), and with stage 2 only their averaged gradients too; with stage 3 it keeps 1/world size of every parameter,
 * its gradient and state.
 */
export interface OptimizerSharding {
  /** The ranks' group; a world of one ({@link DataParallel.single}) leaves the optimizer unsharded. */
  group: DataParallel;
  /**
   * TrainingArguments-style `zero_stage`: 0 off, 1 optimizer-state sharding, 2 optimizer state and gradients, 3
   * parameters too (FSDP FULL_SHARD); 2 and 3 need the model attached to the group first ({@link DataParallel.attach}).
   * With 3 the model's parameters are empty between uses: every rank calls {@link Optimizer.gatherParameters}
   * before rank 0 saves it.
   */
  zeroStage: number;
  /** Updated parameters and saved state go out coalesced in buckets of this many MiB (ddp_bucket_cap_mb; 0: one tensor each). Default 25. */
  bucketCapMb?: number;
}

export class Optimizer {
  readonly #native: NativeOptimizer;
  readonly #learningRate: number | undefined;

  /** @internal use {@link createOptimizer} */
  constructor(handle: NativeOptimizer, learningRate: number | undefined) {
    this.#native = handle;
    this.#learningRate = learningRate;
  }

  /** Parameter names in the weight-decay group, in state-dict order (HF's `get_decay_parameter_names`). */
  decayParameterNames(): string[] {
    return this.#native.decayParameterNames();
  }

  /**
   * Total L2 norm of all gradients before clipping (what the Trainer logs as `grad_norm`), scaling them by
   * min(1, maxNorm / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_. `Infinity` only measures.
   */
  async clipGradNorm(maxNorm: number): Promise<number> {
    return this.#native.clipGradNorm(maxNorm).catch(fromNative);
  }

  /**
   * One AdamW update of every parameter with a gradient, at `lr` (default: the `learning_rate` option). Sharded, a
   * collective: each rank updates its parameters and sends them to the others.
   */
  async step(lr = this.#learningRate): Promise<void> {
    if (lr === undefined)
      throw new AlignkitError('ERR_INVALID_ARG', 'step: no lr given and the optimizer has no learning_rate');
    await this.#native.step(lr).catch(fromNative);
  }

  /**
   * Writes the state as safetensors: `<param>.exp_avg`, `<param>.exp_avg_sq` (parameter shape and dtype) and
   * `<param>.step` (float32 scalar) for every parameter. Sharded, a collective every rank calls: the full state
   * (the same file the unsharded optimizer writes) goes to the rank given a path; `null` writes nothing.
   */
  async save(path: string | null): Promise<void> {
    await this.#native.save(path).catch(fromNative);
  }

  /**
   * Reads a state written by {@link save}, by any world size, sharded or not (a sharded optimizer keeps its own
   * part); a missing, extra or misshapen tensor is an error naming it.
   */
  async load(path: string): Promise<void> {
    await this.#native.load(path).catch(fromNative);
  }

  /** Bytes of the exp_avg / exp_avg_sq tensors this process holds (about 1/world size of the total when sharded). */
  stateBytes(): number {
    return this.#native.stateBytes();
  }

  /**
   * Bytes of the gradients this process holds now, plus the buffers its data-parallel gradient reducer keeps
   * between steps (after a synced backward with zero_stage 2: about 1/world size of the gradients, no buffers).
   */
  gradientBytes(): number {
    return this.#native.gradientBytes();
  }

  /**
   * Bytes of the model's parameters this process holds now: with zero_stage 3 its shards (about 1/world size) plus
   * the units gathered at the moment (none between steps); otherwise every parameter. With `peak`, zero_stage 3's
   * high-water mark so far (the shards plus the units whole at once during a forward or backward).
   */
  parameterBytes(peak = false): number {
    return this.#native.parameterBytes(peak);
  }

  /**
   * With zero_stage 3, a collective every rank calls before one of them saves the model: the parameters are
   * gathered, and where `keep` is true stay whole until their next use (forward, or this optimizer's step frees
   * them); elsewhere each unit is dropped once gathered. Without parameter sharding, nothing.
   */
  async gatherParameters(keep: boolean): Promise<void> {
    await this.#native.gatherParameters(keep).catch(fromNative);
  }
}

/**
 * An AdamW over `model`'s parameters; its steps wait for the model's running forward/backward, and vice versa.
 * With `sharding` (zeroStage 1, 2 or 3 and a group of several ranks) every rank must create it, clip, step and save
 * it together.
 */
export async function createOptimizer(
  model: Model,
  options: AdamWOptions = {},
  sharding?: OptimizerSharding,
): Promise<Optimizer> {
  const zeroStage = sharding?.zeroStage ?? 0;
  if (zeroStage !== 0 && zeroStage !== 1 && zeroStage !== 2 && zeroStage !== 3) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `zero_stage: expected 0 (off), 1 (optimizer-state sharding), 2 (optimizer state and gradients) or 3 (parameters too), got ${zeroStage}`,
    );
  }
  const group = sharding?.group.nativeGroup() ?? null;
  const handle = await native()
    .NativeOptimizer.create(model.nativeHandle(), {
      adamBeta1: options.adam_beta1 ?? 0.9,
      adamBeta2: options.adam_beta2 ?? 0.999,
      adamEpsilon: options.adam_epsilon ?? 1e-8,
      weightDecay: options.weight_decay ?? 0.0,
      fused: (options.optim ?? 'adamw_torch_fused') === 'adamw_torch_fused',
      ...(zeroStage !== 0 && group ? { group, zeroStage, bucketCapMb: sharding?.bucketCapMb } : {}),
    })
    .catch(fromNative);
  return new Optimizer(handle, options.learning_rate);
}

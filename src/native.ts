// Loads the addon (build/Release from a source build, else the matching prebuild) and types its surface.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlignkitError } from './errors.js';
import type { CompletionLogProbsOptions, DpoStepOptions, ForwardOptions, KtoStepOptions, SftStepOptions } from './model.js';

export type IndexArray = Int32Array | Uint8Array;

/** The CUDA caching allocator's counters, in bytes (what torch.cuda.max_memory_allocated reads). */
export interface CpuCache {
  /** Bytes in idle blocks, kept for the next allocation of their size class. */
  idleBytes: number;
  /** Bytes in live blocks of the cached sizes (128 KiB-64 MiB, rounded to their class). */
  liveBytes: number;
  /** The most liveBytes ever was: live and idle together never exceed it. */
  peakLiveBytes: number;
  hits: number;
  misses: number;
  /** Idle blocks returned to the system to keep live + idle within peakLiveBytes. */
  evictions: number;
}

export interface CudaMemory {
  allocated: number;
  peakAllocated: number;
  reserved: number;
  peakReserved: number;
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

/** PEFT's LoraConfig fields, under their PEFT names. */
export interface LoraOptions {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  use_rslora: boolean;
}

export interface NativeModelConfig {
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

export interface DpoStepResult {
  /** Σ loss_weights[i] · mean over pairs of loss_type[i]. */
  loss: number;
  metrics: DpoMetrics;
  /** β · (policy − reference) log-ratio per pair, (pairs). */
  chosenRewards: Float32Array;
  rejectedRewards: Float32Array;
}

/** One KTO micro-batch: the loss, the rewards and the policy's per-sequence values behind TRL's metrics, (batch) each. */
export interface KtoStepResult extends Pick<CompletionLogProbs, 'logps' | 'tokens' | 'meanLogit' | 'entropy'> {
  /** Mean over the rows of the weighted per-row losses (TRL's losses.nanmean()). */
  loss: number;
  /** β · (policy − reference) log-ratio per row. */
  rewards: Float32Array;
}

/** The metrics TRL's SFTTrainer.compute_loss records for one micro-batch, under its names. */
export interface SftMetrics {
  entropy: number;
  mean_token_accuracy: number;
  /** attention_mask.sum(), or the row length of a padding-free batch. */
  num_tokens: number;
}

export interface SftStepResult {
  /** The summed token NLL divided by num_items_in_batch (default: this batch's label tokens). */
  loss: number;
  /** Label tokens of this batch (labels[:, 1:] != -100). */
  labelTokens: number;
  metrics: SftMetrics;
}

export interface NativeModel {
  config(): NativeModelConfig;
  parameters(): { name: string; shape: number[] }[];
  logits(
    ids: Int32Array,
    mask: IndexArray | null,
    positions: Int32Array | null,
    batch: number,
    seqLen: number,
    options: Pick<ForwardOptions, 'bf16'>,
  ): Promise<NativeTensor>;
  forwardBackward(ids: Int32Array, mask: IndexArray | null, batch: number, seqLen: number): Promise<number>;
  completionLogProbs(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    batch: number,
    seqLen: number,
    options: Omit<CompletionLogProbsOptions, 'seqLen'>,
  ): Promise<CompletionLogProbs>;
  dpoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    batch: number,
    seqLen: number,
    reference: NativeModel | { chosen: Float32Array; rejected: Float32Array } | 'base',
    options: DpoStepOptions,
  ): Promise<DpoStepResult>;
  ktoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    batch: number,
    seqLen: number,
    labels: Uint8Array,
    refLogps: Float32Array,
    options: KtoStepOptions,
  ): Promise<KtoStepResult>;
  sftStep(
    ids: Int32Array,
    mask: IndexArray | null,
    positions: Int32Array | null,
    labels: Int32Array,
    batch: number,
    seqLen: number,
    options: SftStepOptions,
  ): Promise<SftStepResult>;
  gradients(): Promise<(NativeTensor & { name: string })[]>;
  zeroGrad(): Promise<void>;
  mixParameters(source: NativeModel, alpha: number): Promise<void>;
  save(dir: string, maxShardBytes: number): Promise<void>;
  attachLora(options: LoraOptions & { seed?: number }): Promise<void>;
  loadAdapter(dir: string): Promise<void>;
  disableDropout(): Promise<void>;
  saveAdapter(dir: string): Promise<void>;
  mergeLora(): Promise<void>;
  dispose(): Promise<void>;
}

/** GenerationConfig's fields under their names, as NativeGeneration.start takes them. */
export interface NativeGenerationOptions {
  max_new_tokens: number;
  do_sample: boolean;
  temperature: number;
  top_k: number;
  top_p: number;
  seed: number;
  eos_token_id: Int32Array;
  pad_token_id: number;
  output_logits: boolean;
}

/** The tokens one step() call added. */
export interface GenerationChunk {
  /** (batch, steps) row-major; a row that finished gets the pad token. */
  tokens: Int32Array;
  steps: number;
  /** Every row finished or max_new_tokens reached: later calls add nothing. */
  done: boolean;
  /** (steps, batch, vocab) raw float32 logits each token was chosen from, with output_logits. */
  logits?: Float32Array;
}

/** A batch being generated (its KV cache lives natively until done or disposed). */
export interface NativeGeneration {
  /** Finishes `stopRows` first, then adds up to maxSteps tokens per row. */
  step(maxSteps: number, stopRows: Int32Array | null): Promise<GenerationChunk>;
  dispose(): Promise<void>;
}

export interface NativeOptimizer {
  decayParameterNames(): string[];
  step(lr: number): Promise<void>;
  clipGradNorm(maxNorm: number): Promise<number>;
  /** Sharded: a collective every rank calls; null writes nothing. */
  save(path: string | null): Promise<void>;
  load(path: string): Promise<void>;
  stateBytes(): number;
}

/** What averaging gradients has cost this rank so far. */
export interface GradientSyncStats {
  /** Backward passes whose gradients were averaged over the ranks (one per optimizer step). */
  syncs: number;
  /** Bucket all-reduces they issued. */
  allReduces: number;
  /** Seconds spent waiting for those all-reduces after the backward ended (the communication overlap did not hide). */
  waitSeconds: number;
}

export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  attach(model: NativeModel, options: { bucketCapMb?: number; firstBucketCapMb?: number }): Promise<void>;
  allReduceSum(values: Float64Array): Promise<Float64Array>;
  allGather(values: Float32Array): Promise<Float32Array>;
  allGatherStrings(value: string): Promise<string[]>;
  gradientSyncStats(): GradientSyncStats;
  close(finished: boolean): Promise<void>;
}

export type SafetensorsData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface NativeAddon {
  readSafetensors(path: string): Promise<{
    tensors: { name: string; dtype: string; shape: number[]; data: SafetensorsData }[];
    metadata: Record<string, string>;
  }>;
  NativeModel: { load(dir: string, options: { dtype?: string; device?: string }): Promise<NativeModel> };
  NativeGeneration: {
    start(
      model: NativeModel,
      ids: Int32Array,
      mask: IndexArray | null,
      batch: number,
      seqLen: number,
      options: NativeGenerationOptions,
    ): Promise<NativeGeneration>;
    /** The sampling warpers alone on (batch, vocab) scores: temperature, then top_k, then top_p; filtered = -inf. */
    warpLogits(
      scores: Float32Array,
      batch: number,
      vocab: number,
      options: Pick<NativeGenerationOptions, 'temperature' | 'top_k' | 'top_p'>,
    ): Float32Array;
  };
  NativeOptimizer: {
    create(
      model: NativeModel,
      options: { adamBeta1: number; adamBeta2: number; adamEpsilon: number; weightDecay: number; fused?: boolean;
        group?: NativeProcessGroup; zeroStage?: 0 | 1; bucketCapMb?: number },
    ): Promise<NativeOptimizer>;
  };
  NativeProcessGroup: {
    connect(options: {
      rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number; cuda?: boolean; localRank?: number;
    }): Promise<NativeProcessGroup>;
  };
  saveRngState(path: string): Promise<void>;
  loadRngState(path: string): Promise<void>;
  runtimeInfo(): { torchVersion: string; builtWithCuda: boolean; cudaAvailable: boolean; cudaDeviceCount: number; threads: number };
  setNumThreads(threads: number): void;
  manualSeed(seed: number): void;
  cudaMemory(device: number, reset?: boolean): CudaMemory;
  cpuCache(): CpuCache;
  randperm(n: number, seed: number): Int32Array;
}

/** The package root: dist/ or src/ sit one level below it. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  try {
    addon ??= nodeGypBuild(packageRoot) as NativeAddon;
  } catch (err) {
    throw new AlignkitError('ERR_NATIVE',
      `alignkit's native addon did not load: ${(err as Error).message}\n` +
        'If npm skipped alignkit\'s install script (npm >= 11 runs it only once approved: ' +
        '`npm install-scripts approve alignkit`), run `npx alignkit setup` to install libtorch and the addon.',
      { cause: err });
  }
  return addon;
}

/** Path of the addon file node-gyp-build loads. */
export function addonPath(): string {
  return nodeGypBuild.resolve(packageRoot);
}

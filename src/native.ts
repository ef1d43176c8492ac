// Loads the addon (the file addon-file.ts picks and checks: a source build or a prebuild) and types its surface.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseAddonFile } from './addon-file.js';
import { AlignkitError } from './errors.js';
import type { CpuCache, CudaMemory, GradientSyncStats } from './types/runtime.js';
import type {
  CompletionLogProbs,
  CompletionLogProbsOptions,
  ForwardOptions,
  LoraOptions,
  ModelConfig,
} from './types/model.js';
import type {
  DpoStepOptions,
  DpoStepResult,
  KtoStepOptions,
  KtoStepResult,
  SftStepOptions,
  SftStepResult,
} from './types/steps.js';
import type { CpoStepOptions, OrpoStepOptions, ReferenceFreeStepResult } from './types/reference-free-steps.js';
import type { IndexArray, SafetensorsData, Tensor } from './types/tensor.js';
import type { BcoStepOptions, BcoStepResult, ListwiseStepOptions, ListwiseStepResult } from './types/bco-steps.js';
import type { RewardStepOptions, RewardStepResult } from './types/reward-steps.js';

/** @internal A loaded model in the addon (native/models/); `Model` (model.ts) is its public face. */
export interface NativeModel {
  config(): ModelConfig;
  parameters(): { name: string; shape: number[] }[];
  logits(
    ids: Int32Array,
    mask: IndexArray | null,
    positions: Int32Array | null,
    batch: number,
    seqLen: number,
    options: Pick<ForwardOptions, 'bf16'>,
  ): Promise<Tensor>;
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
  ): Promise<Omit<DpoStepResult, 'metrics'>>;
  ktoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    batch: number,
    seqLen: number,
    labels: Uint8Array,
    refLogps: Float32Array,
    options: KtoStepOptions,
  ): Promise<Omit<KtoStepResult, 'metrics'>>;
  bcoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    batch: number,
    seqLen: number,
    labels: Uint8Array,
    refLogps: Float32Array,
    options: BcoStepOptions,
  ): Promise<Omit<BcoStepResult, 'metrics'>>;
  listwiseStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    rows: number,
    seqLen: number,
    groupSizes: number[],
    refLogps: Float32Array,
    options: ListwiseStepOptions,
  ): Promise<Omit<ListwiseStepResult, 'metrics'>>;
  orpoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    rows: number,
    seqLen: number,
    options: OrpoStepOptions,
  ): Promise<Omit<ReferenceFreeStepResult, 'metrics'>>;
  cpoStep(
    ids: Int32Array,
    mask: IndexArray | null,
    completionMask: IndexArray,
    rows: number,
    seqLen: number,
    options: CpoStepOptions,
  ): Promise<Omit<ReferenceFreeStepResult, 'metrics'>>;
  rewardStep(
    ids: Int32Array,
    mask: IndexArray | null,
    rows: number,
    seqLen: number,
    margin: Float32Array | null,
    options: RewardStepOptions,
  ): Promise<Omit<RewardStepResult, 'metrics'>>;
  sftStep(
    ids: Int32Array,
    mask: IndexArray | null,
    positions: Int32Array | null,
    labels: Int32Array,
    batch: number,
    seqLen: number,
    options: SftStepOptions,
  ): Promise<Omit<SftStepResult, 'metrics'>>;
  gradients(): Promise<(Tensor & { name: string })[]>;
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

/** @internal GenerationConfig's fields under their names, as NativeGeneration.start takes them. */
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

/** @internal The tokens one step() call added. */
export interface GenerationChunk {
  /** (batch, steps) row-major; a row that finished gets the pad token. */
  tokens: Int32Array;
  steps: number;
  /** Every row finished or max_new_tokens reached: later calls add nothing. */
  done: boolean;
  /** (steps, batch, vocab) raw float32 logits each token was chosen from, with output_logits. */
  logits?: Float32Array;
}

/** @internal A batch being generated (its KV cache lives natively until done or disposed). */
export interface NativeGeneration {
  /** Finishes `stopRows` first, then adds up to maxSteps tokens per row. */
  step(maxSteps: number, stopRows: Int32Array | null): Promise<GenerationChunk>;
  dispose(): Promise<void>;
}

/** @internal An AdamW in the addon; `Optimizer` (train/optimizer.ts) is its public face. */
export interface NativeOptimizer {
  decayParameterNames(): string[];
  step(lr: number): Promise<void>;
  clipGradNorm(maxNorm: number): Promise<number>;
  /** Sharded: a collective every rank calls; null writes nothing. */
  save(path: string | null): Promise<void>;
  load(path: string): Promise<void>;
  stateBytes(): number;
  /** Bytes of the gradients held now plus the gradient reducer's persistent buckets. */
  gradientBytes(): number;
  /** Bytes of the model's parameters held now (zero_stage 3: the shards plus the units gathered; peak: the most so far). */
  parameterBytes(peak?: boolean): number;
  /** zero_stage 3: a collective gathering the parameters (kept whole with keep); otherwise nothing. */
  gatherParameters(keep: boolean): Promise<void>;
}

/** @internal A data-parallel process group in the addon; `DataParallel` (distributed/data-parallel.ts) is its public face. */
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

/** One option of a loss family, as the native catalogue registers it (native/train/option_catalogue.h). */
export interface LossOptionSpec {
  /** TRL's name. */
  name: string;
  type: 'number' | 'optional_number' | 'bool' | 'string' | 'optional_string' | 'string_list' | 'optional_number_list';
  /** The default-constructed native struct's value (TRL's default). */
  default: unknown;
  /** The values a string option (or each of a list's strings) may take. */
  choices?: string[];
}

/** A loss family's catalogue: its loss_type names and every option, each registered once in native/. */
export interface LossCatalogue {
  lossTypes: string[];
  options: LossOptionSpec[];
}

/** @internal The addon's exports, as binding/addon.cc registers them. */
export interface NativeAddon {
  readSafetensors(path: string): Promise<{
    tensors: { name: string; dtype: string; shape: number[]; data: SafetensorsData }[];
    metadata: Record<string, string>;
  }>;
  NativeModel: {
    load(dir: string, options: { dtype?: string; device?: string }): Promise<NativeModel>;
    writeScoreHeadWeights(
      sourceDir: string,
      outDir: string,
      hiddenSize: number,
      std: number,
      seed: number,
    ): Promise<void>;
  };
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
      options: {
        adamBeta1: number;
        adamBeta2: number;
        adamEpsilon: number;
        weightDecay: number;
        fused?: boolean;
        group?: NativeProcessGroup;
        zeroStage?: 0 | 1 | 2 | 3;
        bucketCapMb?: number;
      },
    ): Promise<NativeOptimizer>;
  };
  NativeProcessGroup: {
    connect(options: {
      rank: number;
      worldSize: number;
      masterAddr: string;
      masterPort: number;
      timeoutMs: number;
      cuda?: boolean;
      localRank?: number;
    }): Promise<NativeProcessGroup>;
  };
  saveRngState(path: string): Promise<void>;
  loadRngState(path: string): Promise<void>;
  runtimeInfo(): {
    torchVersion: string;
    builtWithCuda: boolean;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    threads: number;
  };
  setNumThreads(threads: number): void;
  manualSeed(seed: number): void;
  cudaMemory(device: number, reset?: boolean): CudaMemory;
  cpuCache(): CpuCache;
  randperm(n: number, seed: number): Int32Array;
  /** The listwise (Plackett–Luce) loss alone and its gradient in logps (native/train/listwise_loss.h). */
  listwiseLoss(
    logps: Float32Array,
    refLogps: Float32Array,
    groupSizes: number[],
    options: { beta?: number; weights?: Float32Array },
  ): { loss: number; rewards: Float32Array; grad: Float32Array };
  dpoLossCatalogue(): LossCatalogue;
  ktoLossCatalogue(): LossCatalogue;
  sftLossCatalogue(): LossCatalogue;
  orpoLossCatalogue(): LossCatalogue;
  cpoLossCatalogue(): LossCatalogue;
  bcoLossCatalogue(): LossCatalogue;
  /** Throws (code ERR_INVALID_ARG, a message naming the keys) where the options cannot train; absent keys take their defaults. */
  validateDpoLossOptions(options: Record<string, unknown>): void;
  validateKtoLossOptions(options: Record<string, unknown>): void;
  validateSftLossOptions(options: Record<string, unknown>): void;
  validateOrpoLossOptions(options: Record<string, unknown>): void;
  validateCpoLossOptions(options: Record<string, unknown>): void;
  validateBcoLossOptions(options: Record<string, unknown>): void;
}

/** @internal The package root: dist/ or src/ sit one level below it. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

const require = createRequire(import.meta.url);

let addon: NativeAddon | undefined;

/** @internal The addon, loaded on first use; a load failure says how to install it. */
export function native(): NativeAddon {
  if (addon) return addon;
  const file = chooseAddonFile(packageRoot);
  try {
    addon = require(file.path) as NativeAddon;
  } catch (err) {
    throw new AlignkitError(
      'ERR_NATIVE',
      `alignkit's native addon ${file.path} did not load: ${(err as Error).message}\n` +
        'Run `npx alignkit setup` to install libtorch and the addon (npm skips install scripts with --ignore-scripts, ' +
        'or for a package denied in allowScripts).',
      { cause: err },
    );
  }
  return addon;
}

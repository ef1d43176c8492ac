export { AlignkitError, type AlignkitErrorCode } from './errors.js';
export { cpuCache, cudaMemory, info, manualSeed, setNumThreads, type CpuCache, type CudaMemory, type RuntimeInfo } from './info.js';
export {
  loadModel,
  Model,
  type AddLoraOptions,
  type BatchOptions,
  type CompletionLogProbs,
  type CompletionLogProbsOptions,
  type Device,
  type DpoBatch,
  type DpoLossOptions,
  type DpoMetrics,
  type DpoReference,
  type DpoStepOptions,
  type DpoStepResult,
  type Dtype,
  type ForwardOptions,
  type KtoBatch,
  type KtoStepOptions,
  type KtoStepResult,
  type LoadModelOptions,
  type MaskRows,
  type ModelConfig,
  type SaveOptions,
  type SftBatch,
  type SftMetrics,
  type SftStepOptions,
  type SftStepResult,
  type Tensor,
  type TokenRows,
} from './model.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/demo.js';
export { DataParallel, type DataParallelConfig, type GradientSyncStats } from './distributed/data-parallel.js';
export { distributedEnv, threadsPerWorker, type DistributedEnv } from './distributed/launch-env.js';
export { launch, type LaunchOptions } from './distributed/launcher.js';
export { evaluate, type EvalResult, type EvaluateOptions, type Judge } from './eval/evaluate.js';
export { report, type ReportOptions, type ReportResult } from './report/report.js';
export {
  generate,
  generateTokenIds,
  type Generation,
  type Prompt,
} from './generate/generate.js';
export {
  DEFAULT_MAX_NEW_TOKENS,
  type GenerateOptions,
  type SamplingOptions,
  type TokenGenerateOptions,
} from './generate/options.js';
export type { FinishReason, TokenGeneration } from './generate/token-generation.js';
export { mergeAdapter, type MergeOptions } from './merge.js';
export { readSafetensors, type SafetensorsContents, type SafetensorsTensor } from './safetensors.js';
export * from './tokenizer/index.js';
export { createOptimizer, Optimizer, type AdamWOptions, type OptimizerSharding } from './train/optimizer.js';
export {
  constantSchedule,
  constantScheduleWithWarmup,
  cosineScheduleWithWarmup,
  cosineWithHardRestartsScheduleWithWarmup,
  cosineWithMinLrScheduleWithWarmupLrRate,
  createLrScheduler,
  inverseSqrtSchedule,
  learningRateSchedule,
  linearScheduleWithWarmup,
  lrLambda,
  polynomialDecayScheduleWithWarmup,
  warmupStableDecaySchedule,
  warmupStepsFor,
  type LrLambda,
  type LrScheduler,
  type MetricSchedulerState,
  type ScheduleOptions,
  type SchedulerType,
} from './train/lr-schedule.js';
export {
  train,
  type LogEntry,
  type OnlineDpoOptions,
  type ScoreJudge,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
} from './train/train.js';

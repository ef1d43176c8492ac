export { AlignkitError, type AlignkitErrorCode } from './errors.js';
export {
  cpuCache,
  cudaMemory,
  info,
  manualSeed,
  setNumThreads,
  type CpuCache,
  type CudaMemory,
  type RuntimeInfo,
} from './info.js';
export { generate, generateTokenIds, loadModel, Model, type DpoReference } from './model.js';
export type {
  AddLoraOptions,
  BatchOptions,
  CompletionLogProbs,
  CompletionLogProbsOptions,
  Device,
  Dtype,
  ForwardOptions,
  LoadModelOptions,
  ModelConfig,
  SaveOptions,
} from './types/model.js';
export type {
  DpoBatch,
  DpoLossOptions,
  DpoMetrics,
  DpoStepOptions,
  DpoStepResult,
  KtoBatch,
  KtoMetrics,
  KtoStepOptions,
  KtoStepResult,
  MetricParts,
  SftBatch,
  SftMetrics,
  SftStepOptions,
  SftStepResult,
  StepMetricParts,
} from './types/steps.js';
export type {
  CpoLossOptions,
  CpoStepOptions,
  OrpoLossOptions,
  OrpoStepOptions,
  ReferenceFreeMetrics,
  ReferenceFreeStepResult,
} from './types/reference-free-steps.js';
export type { RewardBatch, RewardMetrics, RewardStepOptions, RewardStepResult } from './types/reward-steps.js';
export type {
  BcoBatch,
  BcoMetrics,
  BcoStepOptions,
  BcoStepResult,
  ListwiseBatch,
  ListwiseMetrics,
  ListwiseStepOptions,
  ListwiseStepResult,
  RunningMoments,
} from './types/bco-steps.js';
export type { MaskRows, Tensor, TokenRows } from './types/tensor.js';
export { demoAssets, runDemo, type DemoOptions, type DemoResult } from './demo/demo.js';
export type {
  BcoConfig,
  CpoConfig,
  DpoConfig,
  EvalConfig,
  KtoConfig,
  OnlineDpoConfig,
  OrpoConfig,
  RewardConfig,
  SftConfig,
  TrainConfig,
} from './types/config-types.js';
export { DataParallel, type DataParallelConfig, type GradientSyncStats } from './distributed/data-parallel.js';
export { distributedEnv, threadsPerWorker, type DistributedEnv } from './distributed/launch-env.js';
export { launch, type LaunchOptions } from './distributed/launcher.js';
export { evaluate, type EvalResult, type EvaluateOptions, type Judge } from './eval/evaluate.js';
export { report, type ReportOptions, type ReportResult } from './report/report.js';
export type { Generation, Prompt } from './generate/generate.js';
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
} from './train/train-from-config.js';

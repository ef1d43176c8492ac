// The trainer-generic part of every recipe, top to bottom: the loop of optimizer steps over micro-batches,
// clipping, AdamW and the LR schedule, then logging, evaluation and checkpoints (and Ctrl-C), the summary entry
// and the final model. It mirrors transformers 5.18's Trainer._inner_training_loop / _maybe_log_save_evaluate /
// evaluation_loop and the metric averaging TRL 1.13's trainers share (DPOTrainer.log, SFTTrainer.log). A recipe
// (dpo.ts, sft.ts, kto.ts) brings the models, the data and its step; this file never knows which loss it trains.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DpoConfig, KtoConfig, SftConfig } from '../config/load-config.js';
import { withHubTokenHidden } from '../config/report-fields.js';
import type { EpochBatches } from '../data/epoch-batches.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { info, manualSeed } from '../info.js';
import { loadModel, type Device, type Model } from '../model.js';
import { openReporters, type Reporters } from '../report/reporters.js';
import { writeModelFolder } from '../io/model-folder-write.js';
import { checkpointToResume, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { stopIfNotFinite } from './finite-step.js';
import { sumAcrossRanks, type MetricParts } from './metric-parts.js';
import { createLrScheduler } from './lr-schedule.js';
import { checkModelInit, refuseFloat16, refuseLoraDtype, trainingDtype, type ModelInitConfig } from './model-init.js';
import { adapterBase, loraOptions, savePolicy } from './peft.js';
import { createOptimizer, type Optimizer } from './optimizer.js';
import { flosPerToken, trainSamples, trainSummary } from './train-summary.js';
import { trainingFlow, type FlowActions } from './training-flow.js';

/** One log_history entry, as the Trainer logs it: loss, grad_norm, learning_rate, TRL's metrics, epoch, step. */
export type LogEntry = Record<string, number>;

export interface TrainProgress {
  step: number;
  maxSteps: number;
  epoch: number;
}

export interface TrainOptions {
  /**
   * Aborting stops between optimizer steps: the running step (with its log, evaluation, checkpoint) finishes, a
   * checkpoint is saved and train() returns with `stopped: true`.
   */
  signal?: AbortSignal;
  /** Called when the loop starts (step 0, or the checkpoint's step) and after every optimizer step. */
  onStep?: (progress: TrainProgress) => void;
  /**
   * Called with every log entry: training, evaluation and the end-of-training summary (train_runtime, train_loss,
   * ...). They are also written to output_dir/metrics.jsonl (and the resolved config to training_args.json).
   */
  onLog?: (entry: LogEntry, progress: TrainProgress) => void;
  /** Notes for the user (options not implemented, precompute progress). Default: stderr. */
  log?: (message: string) => void;
  /**
   * This process's part in data-parallel training; train() joins the job torchrun's variables describe. Default:
   * one process.
   */
  dataParallel?: DataParallel;
}

export interface TrainResult {
  globalStep: number;
  logHistory: LogEntry[];
  /** True when the signal stopped training early (a checkpoint holds the state). */
  stopped: boolean;
  /** The latest checkpoint: the last one written, else the one resumed from. */
  checkpoint?: string;
}

/** The TrainingArguments every recipe shares (the fields of DPOConfig, SFTConfig and KTOConfig the loop reads). */
export type LoopConfig = DpoConfig | SftConfig | KtoConfig;

/** What one micro-batch reports: TRL's metrics (num_tokens: attention tokens of this micro-batch) and its input tokens. */
export interface MicroBatchResult {
  metrics: { num_tokens: number };
  /**
   * The sums and counts behind the metrics, which data-parallel ranks add up before dividing, as TRL gathers them
   * (metric-parts.ts). Without them a metric is averaged over the ranks.
   */
  parts?: MetricParts;
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
  evalStep(indices: number[]): Promise<{ loss: number; metrics: object; parts?: MetricParts }>;
  /** After each optimizer step, before its log, evaluation and save (TRL's SyncRefModelCallback.on_step_end). */
  onStepEnd?(globalStep: number): Promise<void>;
  /** Metrics from the parts summed over data-parallel ranks, when they are not all sum / count (KTO's). */
  combineParts?(parts: MetricParts): Record<string, number>;
  /** A second model checkpoints hold beside the policy (sync_ref_model's reference). */
  checkpointReference?: Model;
  /**
   * Writes what the recipe's tokenizer adds to a saved model folder (SFT: the chat template and eos_token), into
   * every checkpoint and the final model, so that each is a complete model_name_or_path.
   */
  saveTokenizerSettings?(dir: string): Promise<void>;
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
  step: (batch: Batch, indices: number[], how: MicroStep) => Promise<Omit<MicroBatchResult, 'inputTokens'> & { loss: number }>,
): Promise<{ loss: number; micro: MicroBatchResult[] }> {
  let loss = 0;
  const results: MicroBatchResult[] = [];
  for (const [i, indices] of micro.entries()) {
    const b = collate(indices);
    const out = await step(b, indices, { lossScale: 1 / micro.length, syncGradients: i === micro.length - 1 });
    loss += out.loss / micro.length;
    results.push({ metrics: out.metrics, parts: out.parts, inputTokens: b.inputIds.length });
  }
  return { loss, micro: results };
}

/** The precision options alignkit does not implement are an error when they would change the result, a note when not. */
export function checkPrecision(config: LoopConfig, note: (message: string) => void): void {
  // On CPU accelerate gives fp16 no autocast (TRL trains in float32); on CUDA it would need a loss scaler.
  if (config.fp16) throw configError('fp16 mixed precision is not implemented (on CPU the HF Trainer trains in float32 with it); use bf16: true, or bf16: false for float32');
  checkModelInit(config, note);
  if (config.bf16 === null) {
    const dtype = trainingDtype(config);
    note(`note: bf16 is unset; as in TRL (true unless fp16) training runs under bfloat16 autocast with the weights in ${dtype === 'auto' ? "the checkpoint's dtype" : dtype}; set bf16: false to train without autocast`);
  }
}

/** eval_strategy or eval_on_start without an eval_dataset is an error. */
export function checkEvalDataset(config: LoopConfig): boolean {
  const evaluates = config.eval_strategy !== 'no' || config.eval_on_start;
  if (evaluates && !config.eval_dataset) {
    throw configError(`${config.eval_strategy !== 'no' ? `eval_strategy '${config.eval_strategy}'` : 'eval_on_start'} needs an eval_dataset`);
  }
  return evaluates;
}

/**
 * As the HF Trainer: the accelerator when there is one (cuda:LOCAL_RANK under a data-parallel launcher), unless
 * use_cpu; the weights in the dtype TRL loads them in (float32 unless dtype / model_init_kwargs say otherwise).
 */
export async function loadTrainingModel(config: Pick<LoopConfig, 'use_cpu'> & ModelInitConfig, dir: string): Promise<Model> {
  const accelerator = info().device === 'cpu' ? 'cpu' : `cuda:${distributedEnv()?.localRank ?? 0}`;
  const model = await loadModel(dir, { device: config.use_cpu ? 'cpu' : (accelerator as Device), dtype: trainingDtype(config) });
  if (model.config.numLabels > 0) {
    await model.dispose();
    throw configError(`${dir} is a sequence-classification (reward) model; training needs a causal LM (*ForCausalLM)`);
  }
  if (model.config.dtype === 'float16') {
    await model.dispose();
    refuseFloat16();
  }
  return model;
}

/**
 * The policy: model_name_or_path, a PEFT adapter folder on its base model, or (resuming) the checkpoint's weights or
 * adapter; use_peft gives a model folder fresh LoRA adapters (peft.ts).
 */
async function loadPolicy(config: LoopConfig, resumeDir: string | null): Promise<Model> {
  const from = resumeDir ?? config.model_name_or_path!;
  const base = adapterBase(from);
  if (base && config.use_peft && !resumeDir) {
    throw configError(`use_peft: model_name_or_path ${from} is already a PEFT adapter (train it without use_peft, or merge it first with alignkit merge)`);
  }
  const policy = await loadTrainingModel(config, base ?? from);
  // dtype auto: the checkpoint's dtype is known once loaded.
  const { dtype } = policy.config;
  if ((base || config.use_peft) && dtype !== 'float32') {
    await policy.dispose();
    refuseLoraDtype(dtype);
  }
  if (base) await policy.loadAdapter(from);
  else if (config.use_peft && !resumeDir) await policy.addLora(loraOptions(config));
  // DPOConfig's disable_dropout: TRL zeroes every dropout of the wrapped model, LoRA's included.
  if ('disable_dropout' in config && config.disable_dropout) await policy.disableDropout();
  return policy;
}

/**
 * The policy (from the checkpoint when resuming), its optimizer and the checkpoint's trainer state; under data
 * parallelism the policy takes rank 0's weights and averages its gradients over the ranks (DDP).
 */
export async function setupPolicy(config: LoopConfig, dataParallel = DataParallel.single) {
  const resumeDir = await checkpointToResume(config.resume_from_checkpoint, config.output_dir!);
  const policy = await loadPolicy(config, resumeDir);
  // The Trainer's set_seed(seed), after the model is wrapped: the draws of LoRA dropout repeat from run to run.
  manualSeed(config.seed);
  await dataParallel.attach(policy, config);
  // zero_stage 1: each rank keeps the AdamW state of its share of the parameters.
  const optimizer = await createOptimizer(policy, config, {
    group: dataParallel, zeroStage: config.zero_stage, bucketCapMb: config.ddp_bucket_cap_mb ?? undefined,
  });
  const resumed = resumeDir ? await loadCheckpoint(resumeDir, optimizer, dataParallel) : null;
  return { resumeDir, policy, optimizer, resumed };
}

/** TRL's log: each metric is the mean of its per-micro-batch values; num_tokens is the running total. */
function averaged(metrics: Record<string, number[]>, totalTokens: number, prefix = ''): LogEntry {
  const out: LogEntry = {};
  for (const [key, values] of Object.entries(metrics)) out[prefix + key] = values.reduce((a, b) => a + b, 0) / values.length;
  out[`${prefix}num_tokens`] = totalTokens;
  return out;
}

function pushMetrics(window: Record<string, number[]>, metrics: object): void {
  for (const [key, value] of Object.entries(metrics as Record<string, number>)) if (key !== 'num_tokens') (window[key] ??= []).push(value);
}

export async function runTrainer(recipe: Recipe, options: TrainOptions = {}): Promise<TrainResult> {
  // report_to and push_to_hub (src/report/reporters.ts): opened before the first step, closed on every way out.
  const reporters = await openReporters(recipe.config, { isMain: (options.dataParallel ?? DataParallel.single).isMain, log: options.log });
  try {
    return await trainLoop(recipe, options, reporters);
  } finally {
    await reporters.close();
  }
}

async function trainLoop(recipe: Recipe, options: TrainOptions, reporters: Reporters): Promise<TrainResult> {
  const { config, policy, optimizer } = recipe;
  // Data parallelism: this rank's shard of every epoch; rank 0 alone writes logs, checkpoints and the model.
  const dp = options.dataParallel ?? DataParallel.single;
  const trainBatches = dp.shard(recipe.trainBatches);
  const evalBatches = recipe.evalBatches && dp.shard(recipe.evalBatches);
  const outputDir = config.output_dir!;
  const accum = config.gradient_accumulation_steps;
  const batchesPerEpoch = trainBatches.length;
  if (batchesPerEpoch === 0) {
    throw configError(`train_dataset's ${recipe.trainBatches.rows} row(s) make no batch of per_device_train_batch_size ` +
      `${config.per_device_train_batch_size}${dp.worldSize > 1 ? ` on each of ${dp.worldSize} ranks` : ''} with dataloader_drop_last: no step to train`);
  }
  const updatesPerEpoch = Math.max(Math.ceil(batchesPerEpoch / accum), 1);
  const maxSteps = config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * updatesPerEpoch);
  const epochs = config.max_steps > 0 ? Math.ceil(maxSteps / updatesPerEpoch) : Math.ceil(config.num_train_epochs);
  // Trainer.create_scheduler; reduce_lr_on_plateau / greedy resume from the checkpoint's state.
  const scheduler = createLrScheduler({ ...config, num_training_steps: maxSteps }, recipe.resumed?.lr_scheduler,
    (message) => dp.isMain && (options.log ?? console.error)(message));
  const flow = trainingFlow(config, maxSteps);

  const state: TrainerState = recipe.resumed
    ?? { global_step: 0, epoch: 0, max_steps: maxSteps, epoch_index: 0, update_in_epoch: 0, seed: config.data_seed ?? config.seed,
        total_tokens: 0, window: { loss: 0, steps: 0, metrics: {} }, grad_norm: null, learning_rate: 0, mode: 'train',
        total_loss: 0, total_flos: 0, log_history: [] };
  state.lr_scheduler = scheduler.state;
  const metricsPath = join(outputDir, 'metrics.jsonl');
  if (dp.isMain) {
    await mkdir(outputDir, { recursive: true });
    // The resolved config (TRL's defaults filled in), as the HF Trainer saves training_args.bin: `alignkit report`
    // shows it, and `alignkit train` reads it back.
    await writeFile(join(outputDir, 'training_args.json'), JSON.stringify(withHubTokenHidden(config), null, 2) + '\n');
    // metrics.jsonl is the log history: on resume, the checkpoint's (entries logged after it are dropped).
    await writeFile(metricsPath, state.log_history.map((entry) => JSON.stringify(entry) + '\n').join(''));
  }
  const progress = () => ({ step: state.global_step, maxSteps, epoch: state.epoch });
  const emit = async (entry: LogEntry) => {
    state.log_history.push(entry);
    if (!dp.isMain) return;
    await appendFile(metricsPath, JSON.stringify(entry) + '\n');
    await reporters.log(entry);
    options.onLog?.(entry, progress());
  };
  let checkpoint: string | undefined = recipe.resumeDir ?? undefined;
  const save = async () => {
    checkpoint = await saveCheckpoint(outputDir, policy, optimizer, state, {
      saveTotalLimit: config.save_total_limit, saveOnlyModel: config.save_only_model, reference: recipe.checkpointReference,
      writeFiles: recipe.saveTokenizerSettings && ((dir) => recipe.saveTokenizerSettings!(dir)), dataParallel: dp,
    });
    await reporters.saved({ checkpoint, step: state.global_step, epoch: state.epoch });
  };
  const acrossRanks = (scalars: number[], micro: { metrics: object; parts?: MetricParts }[]) =>
    sumAcrossRanks(dp, scalars, micro, recipe.combineParts && ((parts) => recipe.combineParts!(parts)));

  // evaluation_loop: no gradients; eval_loss is the mean of the batch losses weighted by their rows (every rank's).
  // Then Trainer._evaluate steps a metric scheduler with it (not eval_on_start's evaluation).
  const evaluate = async (stepScheduler = true) => {
    const metrics: Record<string, number[]> = {};
    let lossSum = 0;
    let rows = 0;
    for (const indices of evalBatches!.order(0)) {
      const out = await recipe.evalStep(indices);
      const sums = await acrossRanks([out.loss * indices.length, indices.length], [out]);
      lossSum += sums.scalars[0]!;
      rows += sums.scalars[1]!;
      pushMetrics(metrics, sums.metrics[0]!);
    }
    state.mode = 'eval';
    const entry = { eval_loss: lossSum / rows, ...averaged(metrics, state.total_tokens, 'eval_'), epoch: state.epoch, step: state.global_step };
    await emit(entry);
    if (stepScheduler) scheduler.afterEvaluate(entry);
  };

  // TRL's metrics of the training window, read when the model is in training mode (see TrainerState.mode).
  const pendingMetrics = (): LogEntry => {
    const metrics = Object.keys(state.window.metrics).length ? averaged(state.window.metrics, state.total_tokens) : {};
    state.window.metrics = {};
    return metrics;
  };
  // _maybe_log_save_evaluate: the loss averaged over the steps since the last log, then evaluation, then a checkpoint.
  const act = async (actions: FlowActions) => {
    if (actions.log && state.window.steps > 0) {
      const { loss, steps } = state.window;
      await emit({
        loss: loss / steps, ...(state.grad_norm === null ? {} : { grad_norm: state.grad_norm }), learning_rate: state.learning_rate,
        ...(state.mode === 'train' ? pendingMetrics() : {}), epoch: state.epoch, step: state.global_step,
      });
      state.window.loss = 0;
      state.window.steps = 0;
    }
    if (actions.evaluate) await evaluate();
    if (actions.save) await save();
  };
  // Between steps: an aborted run saves a checkpoint (unless this step has one) and stops; a finished one goes on.
  // Data-parallel ranks stop together, at the first step after any of them was aborted.
  let abortedOnAnyRank = false;
  const aborted = () => (dp.worldSize > 1 ? abortedOnAnyRank : Boolean(options.signal?.aborted));
  const stopIfAborted = async () => {
    if (!aborted() || state.global_step >= maxSteps) return false;
    if (state.global_step > 0 && checkpoint !== join(outputDir, `checkpoint-${state.global_step}`)) await save();
    return true;
  };

  // --- the loop: one iteration per optimizer step of `accum` micro-batches ---
  const flosPerInputToken = flosPerToken(policy);
  const start = performance.now();
  const startStep = state.global_step;
  if (config.eval_on_start) await evaluate(false);
  if (dp.isMain) options.onStep?.(progress());
  let stopped = false;
  for (let epoch = state.epoch_index; epoch < epochs; epoch++) {
    const order = trainBatches.order(epoch);
    // Resumed mid-epoch: skip the batches already trained on, unless ignore_data_skip starts the epoch over.
    const firstUpdate = epoch === state.epoch_index && !config.ignore_data_skip ? state.update_in_epoch : 0;
    for (let update = firstUpdate; update < updatesPerEpoch && state.global_step < maxSteps; update++) {
      stopped = await stopIfAborted();
      if (stopped) break;
      const step = await recipe.trainStep(order.slice(update * accum, (update + 1) * accum));
      // The logged loss is the mean of the ranks' (nested_gather(tr_loss).mean()), total_flos their sum.
      const inputTokens = step.micro.reduce((n, micro) => n + micro.inputTokens, 0);
      const sums = await acrossRanks([step.loss, inputTokens, options.signal?.aborted ? 1 : 0], step.micro);
      const loss = sums.scalars[0]! / dp.worldSize;
      abortedOnAnyRank = sums.scalars[2]! > 0;
      state.total_flos += flosPerInputToken * sums.scalars[1]!;
      for (const metrics of sums.metrics) {
        state.total_tokens += metrics.num_tokens!;
        pushMetrics(state.window.metrics, metrics);
      }
      // Stopped before the update when not finite (finite-step.ts); without clipping the norm is still measured.
      const rate = scheduler.rateAt(state.global_step);
      stopIfNotFinite('loss', loss, state.global_step + 1, rate, checkpoint);
      const gradNorm = await optimizer.clipGradNorm(config.max_grad_norm > 0 ? config.max_grad_norm : Infinity);
      stopIfNotFinite('gradient norm', gradNorm, state.global_step + 1, rate, checkpoint);
      state.grad_norm = config.max_grad_norm > 0 ? gradNorm : null;
      state.learning_rate = rate;
      await optimizer.step(state.learning_rate);
      await policy.zeroGrad();
      state.global_step++;
      state.epoch = epoch + Math.min((update + 1) * accum, batchesPerEpoch) / batchesPerEpoch;
      state.update_in_epoch = update + 1;
      state.window.loss += loss;
      state.window.steps++;
      state.total_loss += loss;
      state.mode = 'train';
      await recipe.onStepEnd?.(state.global_step);
      if (dp.isMain) options.onStep?.(progress());
      await act(flow.afterStep(state.global_step));
    }
    // on_epoch_end, also when max_steps ends the epoch early. Stopped before it, the resumed run does it.
    stopped ||= await stopIfAborted();
    if (stopped) break;
    [state.epoch_index, state.update_in_epoch] = [epoch + 1, 0];
    await act(flow.atEpochEnd(state.epoch));
    if (state.global_step >= maxSteps) break;
  }
  if (stopped) return { globalStep: state.global_step, logHistory: state.log_history, stopped, checkpoint };

  // --- the summary entry, and the final model in Hugging Face format ---
  const sessionSteps = state.global_step - startStep;
  await emit({
    ...trainSummary({
      runtime: (performance.now() - start) / 1000, steps: sessionSteps,
      samples: (trainSamples(config, trainBatches.rows, maxSteps, dp.worldSize) * sessionSteps) / maxSteps,
      totalFlos: state.total_flos, totalLoss: state.total_loss, globalStep: state.global_step,
    }),
    ...(state.mode === 'train' ? pendingMetrics() : {}), epoch: state.epoch, step: state.global_step,
  });
  await reporters.trainEnd();
  if (dp.isMain) {
    // As a checkpoint is written: a failing write (a full disk) leaves output_dir's previous model intact.
    await writeModelFolder(outputDir, async (dir) => {
      await savePolicy(policy, dir);
      await recipe.saveTokenizerSettings?.(dir);
    });
  }
  await reporters.modelSaved();
  return { globalStep: state.global_step, logHistory: state.log_history, stopped, checkpoint };
}

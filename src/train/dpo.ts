// The DPO recipe, top to bottom: config → data → models → optimizer → the loop (micro-batches, clipping, AdamW,
// the LR schedule) → logging, evaluation, checkpoints → the final model. It mirrors transformers 5.18's
// Trainer._inner_training_loop / training_step / _maybe_log_save_evaluate and TRL 1.13's DPOTrainer (log,
// _precompute_ref_logps, prediction_step); the DPO step itself is Model.dpoStep (native/train/dpo_step.cpp).
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { loadConfig, resolveConfig, type DpoConfig } from '../config/load-config.js';
import { PreferenceBatches } from '../data/preference-batches.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { readArrowFile } from '../data/token-table.js';
import { AlignkitError } from '../errors.js';
import { info } from '../info.js';
import { loadModel, type Device, type DpoReference, type DpoStepOptions, type Model } from '../model.js';
import { Tokenizer } from '../tokenizer/index.js';
import { checkpointToResume, loadCheckpoint, saveCheckpoint, syncedReferenceDir, type TrainerState } from './checkpoint.js';
import { learningRateSchedule } from './lr-schedule.js';
import { createOptimizer } from './optimizer.js';
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
   * ...). They are also written to output_dir/metrics.jsonl.
   */
  onLog?: (entry: LogEntry, progress: TrainProgress) => void;
  /** Notes for the user (options not implemented, precompute progress). Default: stderr. */
  log?: (message: string) => void;
}

export interface TrainResult {
  globalStep: number;
  logHistory: LogEntry[];
  /** True when the signal stopped training early (a checkpoint holds the state). */
  stopped: boolean;
  /** The latest checkpoint: the last one written, else the one resumed from. */
  checkpoint?: string;
}

const configError = (message: string) => new AlignkitError('ERR_INVALID_CONFIG', `config: ${message}`);

/** Options alignkit does not implement yet are an error when they would change the result, a note when not. */
function checkSupported(config: DpoConfig, note: (message: string) => void): void {
  // On CPU accelerate gives fp16 no autocast (TRL trains in float32); on CUDA it would need a loss scaler.
  if (config.fp16) throw configError('fp16 mixed precision is not implemented (on CPU the HF Trainer trains in float32 with it); use bf16: true, or bf16: false for float32');
  if (config.bf16 === null) note('note: bf16 is unset; as in TRL (true unless fp16) training runs under bfloat16 autocast with float32 weights; set bf16: false for float32');
  if (config.sync_ref_model && config.precompute_ref_log_probs) {
    throw configError('sync_ref_model cannot be combined with precompute_ref_log_probs: the synced reference would make the precomputed log-probs stale (TRL refuses it too)');
  }
  if (config.padding_free) note('note: padding_free is disabled in TRL 1.13 too; training with padding');
}

/** TRL: pad_token, else the tokenizer's pad token, else its eos token; it must be in the vocabulary. */
function padTokenId(config: DpoConfig, tokenizer: Tokenizer): number {
  if (config.pad_token === null) return tokenizer.padTokenId ?? tokenizer.eosTokenId;
  const id = tokenizer.tokenToId(config.pad_token);
  if (id === undefined) throw configError(`pad_token '${config.pad_token}' is not in the tokenizer's vocabulary`);
  return id;
}

/**
 * TRL's _precompute_ref_logps: the reference's log-probs of every row, in table order, without gradients; with
 * ld_alpha, LD-weighted as TRL stores them (shared + ld_alpha · tail).
 */
async function precomputeReference(reference: Model, batches: PreferenceBatches, batchSize: number, ldAlpha: number | null) {
  const chosen = new Float32Array(batches.rows);
  const rejected = new Float32Array(batches.rows);
  for (let start = 0; start < batches.rows; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, batches.rows - start) }, (_, i) => start + i);
    const b = batches.collate(indices);
    const { logps, tailLogps } = await reference.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask,
      { seqLen: b.seqLen, pairTail: ldAlpha !== null });
    // logps + (ld_alpha − 1) · tail in float32 steps, as dpoStep weights a reference model's log-probs.
    const f = Math.fround;
    const weighted = (i: number) => (ldAlpha === null ? logps[i]! : f(logps[i]! + f(f(ldAlpha - 1) * tailLogps![i]!)));
    indices.forEach((row, i) => {
      chosen[row] = weighted(i);
      rejected[row] = weighted(indices.length + i);
    });
  }
  return { chosen, rejected };
}

type Reference = Model | { chosen: Float32Array; rejected: Float32Array };

function referenceFor(reference: Reference, indices: number[]): DpoReference {
  if (!('chosen' in reference)) return reference;
  return { chosen: Float32Array.from(indices, (i) => reference.chosen[i]!), rejected: Float32Array.from(indices, (i) => reference.rejected[i]!) };
}

/** TRL's DPOTrainer.log: each metric is the mean of its per-micro-batch values; num_tokens is the running total. */
function averaged(metrics: Record<string, number[]>, totalTokens: number, prefix = ''): LogEntry {
  const out: LogEntry = {};
  for (const [key, values] of Object.entries(metrics)) out[prefix + key] = values.reduce((a, b) => a + b, 0) / values.length;
  out[`${prefix}num_tokens`] = totalTokens;
  return out;
}

function pushMetrics(window: Record<string, number[]>, metrics: object): void {
  for (const [key, value] of Object.entries(metrics as Record<string, number>)) if (key !== 'num_tokens') (window[key] ??= []).push(value);
}

export async function train(configOrPath: string | Record<string, unknown>, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));

  // --- setup: config, data, models, optimizer, schedule ---
  const config = (typeof configOrPath === 'string' ? await loadConfig(configOrPath) : resolveConfig(configOrPath)) as DpoConfig;
  if (config.trainer !== 'dpo') throw configError(`train() runs the dpo trainer, got trainer: ${config.trainer}`);
  checkSupported(config, note);
  const outputDir = config.output_dir!;
  const modelDir = config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const batchOptions = {
    seed: config.data_seed ?? config.seed, groupByLength: false, dropLast: config.dataloader_drop_last,
    padTokenId: padTokenId(config, tokenizer), maxLength: config.max_length,
    truncationMode: config.truncation_mode, padToMultipleOf: config.pad_to_multiple_of,
  };
  const table = async (split: 'train' | 'eval'): Promise<Table> => readArrowFile((await preprocessPreferences(config, { split, log: note })).path);
  const trainBatches = new PreferenceBatches(await table('train'), { ...batchOptions, batchSize: config.per_device_train_batch_size, shuffle: true });
  const evaluates = config.eval_strategy !== 'no' || config.eval_on_start;
  const evalBatches = evaluates && config.eval_dataset
    ? new PreferenceBatches(await table('eval'), { ...batchOptions, batchSize: config.per_device_eval_batch_size, shuffle: false })
    : null;
  if (evaluates && !evalBatches) {
    throw configError(`${config.eval_strategy !== 'no' ? `eval_strategy '${config.eval_strategy}'` : 'eval_on_start'} needs an eval_dataset`);
  }

  const resume = await checkpointToResume(config.resume_from_checkpoint, outputDir);
  // As the HF Trainer: the accelerator when there is one, unless use_cpu; float32 master weights either way.
  const load = (dir: string) => loadModel(dir, { device: config.use_cpu ? 'cpu' : (info().device as Device), dtype: 'float32' });
  const policy = await load(resume ?? modelDir);
  let reference: Reference = await load(config.sync_ref_model && resume ? syncedReferenceDir(resume) : modelDir);
  // TR-DPO: the reference moves toward the policy during training, so checkpoints hold it too.
  const synced = config.sync_ref_model ? (reference as Model) : undefined;
  let evalReference: Reference = reference;
  if (config.precompute_ref_log_probs) {
    // One pass of the reference over each table; the reference model is then freed.
    // In float32 even with bf16: TRL precomputes in DPOTrainer.__init__, before accelerate wraps the forward in autocast.
    const model = reference as Model;
    reference = await precomputeReference(model, trainBatches, config.precompute_ref_batch_size ?? config.per_device_train_batch_size, config.ld_alpha);
    if (evalBatches) evalReference = await precomputeReference(model, evalBatches, config.precompute_ref_batch_size ?? config.per_device_eval_batch_size, config.ld_alpha);
    await model.dispose();
  }
  const optimizer = await createOptimizer(policy, config);

  const accum = config.gradient_accumulation_steps;
  const batchesPerEpoch = trainBatches.length;
  const updatesPerEpoch = Math.max(Math.ceil(batchesPerEpoch / accum), 1);
  const maxSteps = config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * updatesPerEpoch);
  const epochs = config.max_steps > 0 ? Math.ceil(maxSteps / updatesPerEpoch) : Math.ceil(config.num_train_epochs);
  const learningRate = learningRateSchedule({ ...config, num_training_steps: maxSteps });
  const flow = trainingFlow(config, maxSteps);
  const lossOptions: DpoStepOptions = {
    beta: config.beta, loss_type: config.loss_type, loss_weights: config.loss_weights, label_smoothing: config.label_smoothing,
    use_weighting: config.use_weighting, ld_alpha: config.ld_alpha, f_divergence_type: config.f_divergence_type,
    f_alpha_divergence_coef: config.f_alpha_divergence_coef, discopop_tau: config.discopop_tau,
    bf16: config.bf16 ?? true, gradient_checkpointing: config.gradient_checkpointing,
  };

  const state: TrainerState = resume
    ? await loadCheckpoint(resume, optimizer)
    : { global_step: 0, epoch: 0, max_steps: maxSteps, epoch_index: 0, update_in_epoch: 0, seed: batchOptions.seed,
        total_tokens: 0, window: { loss: 0, steps: 0, metrics: {} }, grad_norm: null, learning_rate: 0, mode: 'train',
        total_loss: 0, total_flos: 0, log_history: [] };
  await mkdir(outputDir, { recursive: true });
  // metrics.jsonl is the log history: on resume, the checkpoint's (entries logged after it are dropped).
  const metricsPath = join(outputDir, 'metrics.jsonl');
  await writeFile(metricsPath, state.log_history.map((entry) => JSON.stringify(entry) + '\n').join(''));
  const progress = () => ({ step: state.global_step, maxSteps, epoch: state.epoch });
  const emit = async (entry: LogEntry) => {
    state.log_history.push(entry);
    await appendFile(metricsPath, JSON.stringify(entry) + '\n');
    options.onLog?.(entry, progress());
  };
  let checkpoint: string | undefined = resume ?? undefined;
  const save = async () => {
    checkpoint = await saveCheckpoint(outputDir, policy, optimizer, state, config.save_total_limit, synced);
  };

  // TRL's prediction_step over the eval set: no gradients; eval_loss is the pair-weighted mean of the batch losses.
  const evaluate = async () => {
    const metrics: Record<string, number[]> = {};
    let lossSum = 0;
    for (const indices of evalBatches!.order(0)) {
      const b = evalBatches!.collate(indices);
      const out = await policy.dpoStep(b, referenceFor(evalReference, indices), { ...lossOptions, backward: false });
      lossSum += out.loss * indices.length;
      pushMetrics(metrics, out.metrics);
    }
    state.mode = 'eval';
    await emit({ eval_loss: lossSum / evalBatches!.rows, ...averaged(metrics, state.total_tokens, 'eval_'), epoch: state.epoch, step: state.global_step });
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
  const stopIfAborted = async () => {
    if (!options.signal?.aborted || state.global_step >= maxSteps) return false;
    if (state.global_step > 0 && checkpoint !== join(outputDir, `checkpoint-${state.global_step}`)) await save();
    return true;
  };

  // --- the loop: one iteration per optimizer step of `accum` micro-batches ---
  const flosPerInputToken = flosPerToken(policy);
  const start = performance.now();
  const startStep = state.global_step;
  if (config.eval_on_start) await evaluate();
  options.onStep?.(progress());
  let stopped = false;
  for (let epoch = state.epoch_index; epoch < epochs; epoch++) {
    const order = trainBatches.order(epoch);
    const firstUpdate = epoch === state.epoch_index ? state.update_in_epoch : 0;
    for (let update = firstUpdate; update < updatesPerEpoch && state.global_step < maxSteps; update++) {
      stopped = await stopIfAborted();
      if (stopped) break;
      const micro = order.slice(update * accum, (update + 1) * accum);
      // training_step divides each micro-batch's loss by the micro-batches of this step (DPOTrainer sets
      // model_accepts_loss_kwargs = False, so num_items_in_batch is not used).
      let stepLoss = 0;
      for (const indices of micro) {
        const b = trainBatches.collate(indices);
        const out = await policy.dpoStep(b, referenceFor(reference, indices), { ...lossOptions, lossScale: 1 / micro.length });
        stepLoss += out.loss / micro.length;
        state.total_tokens += out.metrics.num_tokens;
        state.total_flos += flosPerInputToken * b.inputIds.length;
        pushMetrics(state.window.metrics, out.metrics);
      }
      state.grad_norm = config.max_grad_norm > 0 ? await optimizer.clipGradNorm(config.max_grad_norm) : null;
      state.learning_rate = learningRate(state.global_step);
      await optimizer.step(state.learning_rate);
      await policy.zeroGrad();
      state.global_step++;
      state.epoch = epoch + Math.min((update + 1) * accum, batchesPerEpoch) / batchesPerEpoch;
      state.update_in_epoch = update + 1;
      state.window.loss += stepLoss;
      state.window.steps++;
      state.total_loss += stepLoss;
      state.mode = 'train';
      // TRL's SyncRefModelCallback.on_step_end: before this step's logging, evaluation and save.
      if (synced && state.global_step % config.ref_model_sync_steps === 0) await synced.mixParameters(policy, config.ref_model_mixup_alpha);
      options.onStep?.(progress());
      await act(flow.afterStep(state.global_step));
    }
    // on_epoch_end, also when max_steps ends the epoch early. Stopped before it, the resumed run does it.
    stopped ||= await stopIfAborted();
    if (stopped) break;
    [state.epoch_index, state.update_in_epoch] = [epoch + 1, 0];
    await act(flow.atEpochEnd());
    if (state.global_step >= maxSteps) break;
  }
  if (stopped) return { globalStep: state.global_step, logHistory: state.log_history, stopped, checkpoint };

  // --- the summary entry, and the final model in Hugging Face format ---
  const sessionSteps = state.global_step - startStep;
  await emit({
    ...trainSummary({
      runtime: (performance.now() - start) / 1000, steps: sessionSteps,
      samples: (trainSamples(config, trainBatches.rows, maxSteps) * sessionSteps) / maxSteps,
      totalFlos: state.total_flos, totalLoss: state.total_loss, globalStep: state.global_step,
    }),
    ...(state.mode === 'train' ? pendingMetrics() : {}), epoch: state.epoch, step: state.global_step,
  });
  await policy.save(outputDir);
  return { globalStep: state.global_step, logHistory: state.log_history, stopped, checkpoint };
}

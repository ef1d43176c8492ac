// The trainer-generic part of every recipe, top to bottom: the loop of optimizer steps over micro-batches,
// clipping, AdamW and the LR schedule, then logging, evaluation and checkpoints (and Ctrl-C), the summary entry
// and the final model. It mirrors transformers 5.18's Trainer._inner_training_loop / _maybe_log_save_evaluate /
// evaluation_loop and the metric averaging TRL 1.13's trainers share (DPOTrainer.log, SFTTrainer.log). A recipe
// (dpo.ts, sft.ts, kto.ts) brings the models, the data and its step; this file never knows which loss it trains.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withHubTokenHidden } from '../config/report-fields.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import { openReporters, type Reporters } from '../report/reporters.js';
import { writeModelFolder } from '../io/model-folder-write.js';
import { saveCheckpoint, type TrainerState } from './checkpoint.js';
import { stopIfNotFinite } from './finite-step.js';
import {
  pushMetrics,
  sumAcrossRanks,
  windowMeans,
  type MetricRules,
  type MetricWindow,
  type StepMetricParts,
} from './metrics.js';
import { createLrScheduler } from './lr-schedule.js';
import { savePolicy } from './peft.js';
import type { Recipe } from './recipe.js';
import { flosPerToken, trainSamples, trainSummary } from './summary-entry.js';
import type { LogEntry, TrainOptions, TrainResult } from './train-types.js';
import { flowCallback, type FlowActions } from './flow-callback.js';

/** TRL's log: each metric is the mean of its per-micro-batch values (metrics.ts); num_tokens is the running total. */
function averaged(window: MetricWindow, totalTokens: number, rules: MetricRules, prefix = ''): LogEntry {
  const out: LogEntry = {};
  for (const [key, value] of Object.entries(windowMeans(window, rules))) out[prefix + key] = value;
  if (rules.numTokens !== false) out[`${prefix}num_tokens`] = totalTokens;
  return out;
}

export async function runTrainer(recipe: Recipe, options: TrainOptions = {}): Promise<TrainResult> {
  // report_to and push_to_hub (src/report/reporters.ts): opened before the first step, closed on every way out.
  const reporters = await openReporters(recipe.config, {
    isMain: (options.dataParallel ?? DataParallel.single).isMain,
    log: options.log,
  });
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
    throw configError(
      `train_dataset's ${recipe.trainBatches.rows} row(s) make no batch of per_device_train_batch_size ` +
        `${config.per_device_train_batch_size}${dp.worldSize > 1 ? ` on each of ${dp.worldSize} ranks` : ''} with dataloader_drop_last: no step to train`,
    );
  }
  const updatesPerEpoch = Math.max(Math.ceil(batchesPerEpoch / accum), 1);
  const maxSteps = config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * updatesPerEpoch);
  const epochs = config.max_steps > 0 ? Math.ceil(maxSteps / updatesPerEpoch) : Math.ceil(config.num_train_epochs);
  // Trainer.create_scheduler; reduce_lr_on_plateau / greedy resume from the checkpoint's state.
  const scheduler = createLrScheduler(
    { ...config, num_training_steps: maxSteps },
    recipe.resumed?.lr_scheduler,
    (message) => dp.isMain && (options.log ?? console.error)(message),
  );
  const flow = flowCallback(config, maxSteps);

  const state: TrainerState = recipe.resumed ?? {
    global_step: 0,
    epoch: 0,
    max_steps: maxSteps,
    epoch_index: 0,
    update_in_epoch: 0,
    seed: config.data_seed ?? config.seed,
    total_tokens: 0,
    window: { loss: 0, steps: 0, metrics: {} },
    grad_norm: null,
    learning_rate: 0,
    mode: 'train',
    total_loss: 0,
    total_flos: 0,
    log_history: [],
  };
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
      saveTotalLimit: config.save_total_limit,
      saveOnlyModel: config.save_only_model,
      reference: recipe.checkpointReference,
      writeFiles: async (dir) => {
        await recipe.saveTokenizerSettings?.(dir);
        // TRL saves a trainer's own state with the optimizer's (_save_optimizer_and_scheduler): not under save_only_model.
        if (!config.save_only_model) await recipe.saveTrainingState?.(dir);
      },
      dataParallel: dp,
    });
    await reporters.saved({ checkpoint, step: state.global_step, epoch: state.epoch });
  };
  const acrossRanks = (scalars: number[], micro: StepMetricParts[]) =>
    sumAcrossRanks(dp, scalars, micro, recipe.metricRules);

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
    const entry = {
      eval_loss: lossSum / rows,
      ...averaged(metrics, state.total_tokens, recipe.metricRules, 'eval_'),
      epoch: state.epoch,
      step: state.global_step,
    };
    await emit(entry);
    if (stepScheduler) scheduler.afterEvaluate(entry);
  };

  // TRL's metrics of the training window, read when the model is in training mode (see TrainerState.mode).
  const pendingMetrics = (): LogEntry => {
    const metrics = Object.keys(state.window.metrics).length
      ? averaged(state.window.metrics, state.total_tokens, recipe.metricRules)
      : {};
    state.window.metrics = {};
    return metrics;
  };
  // _maybe_log_save_evaluate: the loss averaged over the steps since the last log, then evaluation, then a checkpoint.
  const act = async (actions: FlowActions) => {
    if (actions.log && state.window.steps > 0) {
      const { loss, steps } = state.window;
      await emit({
        loss: loss / steps,
        ...(state.grad_norm === null ? {} : { grad_norm: state.grad_norm }),
        learning_rate: state.learning_rate,
        ...(state.mode === 'train' ? pendingMetrics() : {}),
        epoch: state.epoch,
        step: state.global_step,
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
      runtime: (performance.now() - start) / 1000,
      steps: sessionSteps,
      samples: (trainSamples(config, trainBatches.rows, maxSteps, dp.worldSize) * sessionSteps) / maxSteps,
      totalFlos: state.total_flos,
      totalLoss: state.total_loss,
      globalStep: state.global_step,
    }),
    ...(state.mode === 'train' ? pendingMetrics() : {}),
    epoch: state.epoch,
    step: state.global_step,
  });
  await reporters.trainEnd();
  // zero_stage 3: every rank sends its shards; rank 0 keeps the whole parameters for the save.
  await optimizer.gatherParameters(dp.isMain);
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

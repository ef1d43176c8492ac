// The BCO recipe: config → unpaired data (data/unpaired, tokenized as BCOTrainer does) → policy and reference →
// the BCO step, handed to the shared loop (trainer-loop.ts). It mirrors TRL 1.13's experimental BCOTrainer
// (get_batch_loss_metrics, bco_loss, RunningMoments, get_train_dataloader's precomputed reference log-probs): per
// micro-batch the reference's log-probs of the rows (without autograd) go into Model.bcoStep
// (native/train/bco_step.cpp), which folds the batch's rewards into the running moments, reads δ, and runs the
// policy's forward, loss and backward. The moments are saved beside each checkpoint as running.json and read back on
// resume, as TRL does.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import type { BcoConfig } from '../config/load-config.js';
import { splitBatches } from '../data/epoch-batches.js';
import { preprocessUnpaired } from '../data/unpaired/preprocess-unpaired.js';
import { UnpairedBatches, type UnpairedBatch } from '../data/unpaired/unpaired-batches.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { Model } from '../model.js';
import type { CompletionLogProbsOptions } from '../types/model.js';
import type { BcoLossOptions, BcoStepOptions, RunningMoments } from '../types/bco-steps.js';
import { lossCatalogue, lossOptions } from '../config/loss-options.js';
import { Tokenizer } from '../tokenizer/index.js';
import { adapterBase, MOE_MODEL_TYPES } from './peft.js';
import { readModelJson } from '../io/model-file.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { trainingDtype } from './model-init.js';
import { METRIC_RULES } from './metrics.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { loadTrainingModel, setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';
import { precomputeReference, referenceFor, type Reference } from './unpaired-reference.js';

/** TRL's RUNNING_NAME: the running moments beside a checkpoint's optimizer state. */
export const RUNNING_FILE = 'running.json';

/** RunningMoments' initial state (mean 0, std 1, var 1, count 1e-24). */
const initialMoments = (): RunningMoments => ({ mean: 0, std: 1, var: 1, count: 1e-24 });

/** RunningMoments.load_from_json: the moments a checkpoint saved, or the initial ones when it has none. */
async function resumedMoments(resumeDir: string | null): Promise<RunningMoments> {
  const path = resumeDir && join(resumeDir, RUNNING_FILE);
  if (!path || !existsSync(path)) return initialMoments();
  return { ...initialMoments(), ...(JSON.parse(await readFile(path, 'utf8')) as Partial<RunningMoments>) };
}

/** RunningMoments.save_to_json: its fields sorted, indented by 2, as json.dumps(sort_keys=True, indent=2). */
const momentsJson = (m: RunningMoments) =>
  JSON.stringify({ count: m.count, mean: m.mean, std: m.std, var: m.var }, null, 2) + '\n';

export async function trainBco(config: BcoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkPrecision(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  if (adapterBase(modelDir))
    throw configError(
      `trainer: bco starts from a model, not a PEFT adapter folder (${modelDir}); merge it first with alignkit merge, or train fresh adapters with use_peft`,
    );
  const json = await readModelJson(join(modelDir, 'config.json')).catch(() => undefined);
  const modelType = typeof json?.model_type === 'string' ? json.model_type : '';
  if (MOE_MODEL_TYPES.includes(modelType))
    throw configError(
      `trainer: bco on a Mixture-of-Experts model (${modelType}) is not supported: TRL's BCOTrainer adds ` +
        "the router's load-balancing loss (the model config's output_router_logits and router_aux_loss_coef), which " +
        "alignkit's BCO step does not compute",
    );
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  // DPODataCollatorWithPadding: right padding to the longest row (BCO's ids are already cut to max_length).
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenId,
    maxLength: null,
    padToMultipleOf: null,
  };
  const table = async (split: 'train' | 'eval'): Promise<Table> =>
    readArrowFile(
      (
        await dp.mainFirst(() =>
          preprocessUnpaired({ ...config, trainer: 'bco' }, { split, log: note, refuseEmpty: true }),
        )
      ).path,
    );
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new UnpairedBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    // BCOTrainer._get_train_sampler: always a SequentialSampler.
    shuffle: false,
    evaluates,
  });

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  // With LoRA adapters the reference is the policy with them off (TRL's null_ref_context), as in KTO.
  const lora = policy.config.lora;
  const forward: CompletionLogProbsOptions = { bf16: config.bf16 ?? true };
  const referenceForward: CompletionLogProbsOptions = { ...forward, adaptersOff: lora };
  // Under precompute_ref_log_probs BCOTrainer has no reference model: get_train_dataloader takes the train rows'
  // log-probs from the policy before its first step, and get_eval_dataloader the eval rows' from the policy as it
  // is at the first evaluation (adapters off with LoRA), once. Otherwise the reference is a frozen copy of the
  // initial policy, or with LoRA the policy with its adapters off (null_ref_context), as in KTO.
  const precompute = config.precompute_ref_log_probs;
  const referenceModel: Model =
    lora || precompute ? policy : await loadTrainingModel(config, modelDir, trainingDtype(config));
  const reference: Reference = precompute
    ? await precomputeReference(policy, trainBatches, config.per_device_train_batch_size, referenceForward, dp)
    : referenceModel;
  let evalReference: Reference | undefined = precompute ? undefined : referenceModel;
  const evalReferenceNow = async () =>
    (evalReference ??= await precomputeReference(
      policy,
      evalBatches!,
      config.per_device_eval_batch_size,
      referenceForward,
      dp,
    ));
  const stepOptions: BcoStepOptions = {
    ...lossOptions<BcoLossOptions>(config, lossCatalogue('bco')),
    ...forward,
    ...checkpointingOptions(config, policy.config.numLayers),
  };
  let running = await resumedMoments(resumeDir);

  const bco = async (b: UnpairedBatch, indices: number[], ref: Reference, options: BcoStepOptions) => {
    const refLogps = await referenceFor(ref, b, indices, referenceForward);
    const out = await policy.bcoStep(b, refLogps.logps, { ...stepOptions, ...options, running });
    running = out.running;
    return out;
  };

  return runTrainer(
    {
      config,
      policy,
      optimizer,
      resumed,
      resumeDir,
      trainBatches,
      evalBatches,
      trainStep: (micro) =>
        meanOverMicroBatches(
          micro,
          (indices) => trainBatches.collate(indices),
          (b, indices, how) => bco(b, indices, reference, how),
        ),
      // prediction_step: bco_loss(do_train=False) reads δ without updating it.
      async evalStep(indices) {
        return bco(evalBatches!.collate(indices), indices, await evalReferenceNow(), {
          backward: false,
          update: false,
        });
      },
      metricRules: METRIC_RULES.bco,
      saveTrainingState: (dir) => writeFile(join(dir, RUNNING_FILE), momentsJson(running)),
    },
    options,
  );
}

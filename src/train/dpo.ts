// The DPO recipe: config → data → policy and reference → the DPO step, handed to the shared loop
// (trainer-loop.ts) for optimizer steps, logging, evaluation and checkpoints. It mirrors TRL 1.13's DPOTrainer
// (_precompute_ref_logps, sync_ref_model, prediction_step); the DPO step itself is Model.dpoStep
// (native/train/dpo_step.cpp).
import type { Table } from 'apache-arrow';
import type { DpoConfig } from '../config/load-config.js';
import { lossCatalogue, lossOptions as lossOptionsOf } from '../config/loss-options.js';
import { splitBatches } from '../data/epoch-batches.js';
import { padTokenId } from '../data/pad-token.js';
import { PreferenceBatches } from '../data/preference-batches.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { DpoReference, Model } from '../model.js';
import type { DpoLossOptions, DpoStepOptions } from '../types/steps.js';
import { Tokenizer } from '../tokenizer/index.js';
import { syncedReferenceDir } from './checkpoint.js';
import { METRIC_RULES } from './metrics.js';
import { adapterBase } from './peft.js';
import { precomputeRefLogProbs } from './auto-precompute.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { referenceDtype } from './reference-dtype.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { loadTrainingModel, setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';

/** Options alignkit does not implement yet are an error when they would change the result, a note when not. */
function checkSupported(config: DpoConfig, note: (message: string) => void): void {
  checkPrecision(config, note);
  if (config.padding_free) note('note: padding_free is disabled in TRL 1.13 too; training with padding');
}

/**
 * TRL's _precompute_ref_logps: the reference's log-probs of every row, in table order, without gradients; with
 * ld_alpha, LD-weighted as TRL stores them (shared + ld_alpha · tail). Data-parallel ranks each take a block of
 * rows and gather the rest.
 */
async function precomputeReference(
  reference: Model,
  batches: PreferenceBatches,
  batchSize: number,
  ldAlpha: number | null,
  adaptersOff: boolean,
  dp: DataParallel,
) {
  const { first, end, size: block } = dp.rowBlock(batches.rows);
  const chosen = new Float32Array(block);
  const rejected = new Float32Array(block);
  for (let start = first; start < end; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, end - start) }, (_, i) => start + i);
    const b = batches.collate(indices);
    const { logps, tailLogps } = await reference.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask, {
      seqLen: b.seqLen,
      pairTail: ldAlpha !== null,
      adaptersOff,
    });
    // logps + (ld_alpha − 1) · tail in float32 steps, as dpoStep weights a reference model's log-probs.
    const f = Math.fround;
    const weighted = (i: number) => (ldAlpha === null ? logps[i]! : f(logps[i]! + f(f(ldAlpha - 1) * tailLogps![i]!)));
    indices.forEach((row, i) => {
      chosen[row - first] = weighted(i);
      rejected[row - first] = weighted(indices.length + i);
    });
  }
  const [allChosen, allRejected] = [await dp.gather(chosen), await dp.gather(rejected)];
  return { chosen: allChosen.slice(0, batches.rows), rejected: allRejected.slice(0, batches.rows) };
}

type Reference = Model | 'base' | { chosen: Float32Array; rejected: Float32Array };

function referenceFor(reference: Reference, indices: number[]): DpoReference {
  if (reference === 'base' || !('chosen' in reference)) return reference;
  return {
    chosen: Float32Array.from(indices, (i) => reference.chosen[i]!),
    rejected: Float32Array.from(indices, (i) => reference.rejected[i]!),
  };
}

/**
 * TRL's reference: a copy of the initial policy. With fresh LoRA adapters (use_peft) it is the policy with them off
 * ('base', no second copy of the weights); from a PEFT adapter folder, TRL adds a frozen "ref" copy of that adapter,
 * so the reference is the base model with the folder's adapter.
 */
async function loadReference(
  config: DpoConfig,
  policy: Model,
  resumeDir: string | null,
  referenceDir: string,
  note: (message: string) => void,
): Promise<Model | 'base'> {
  const start = config.model_name_or_path!;
  const base = adapterBase(start);
  if (policy.config.lora && config.sync_ref_model)
    throw configError('sync_ref_model is not compatible with PEFT (TRL refuses it too)');
  if (base) {
    referenceDtype(config, true, note);
    const reference = await loadTrainingModel(config, base);
    await reference.loadAdapter(start);
    return reference;
  }
  const dtype = referenceDtype(config, policy.config.lora, note);
  if (policy.config.lora) return 'base';
  return loadTrainingModel(
    config,
    config.sync_ref_model && resumeDir ? syncedReferenceDir(resumeDir) : referenceDir,
    dtype,
  );
}

/** `referenceDir`: the reference's folder when it is not model_name_or_path (TRL's ref_model; online DPO's fixed reference). */
export async function trainDpo(
  config: DpoConfig,
  options: TrainOptions = {},
  referenceDir = config.model_name_or_path!,
): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkSupported(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    padTokenId: padTokenId(config, tokenizer),
    maxLength: config.max_length,
    truncationMode: config.truncation_mode,
    padToMultipleOf: config.pad_to_multiple_of,
  };
  // Rank 0 tokenizes into the cache first; the other ranks then read it.
  const table = async (split: 'train' | 'eval'): Promise<Table> =>
    readArrowFile(
      (await dp.mainFirst(() => preprocessPreferences(config, { split, log: note, refuseEmpty: true }))).path,
    );
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new PreferenceBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    shuffle: config.train_sampling_strategy !== 'sequential',
    evaluates,
  });

  const precompute = precomputeRefLogProbs(
    config,
    { batchesPerEpoch: dp.shard(trainBatches).length, sameValues: true },
    note,
  );

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  let reference: Reference = await loadReference(config, policy, resumeDir, referenceDir, note);
  // TR-DPO: the reference moves toward the policy during training, so checkpoints hold it too.
  const synced = config.sync_ref_model ? (reference as Model) : undefined;
  let evalReference: Reference = reference;
  if (precompute) {
    // One pass of the reference over each table; a reference model is then freed ('base' is the policy itself).
    // In float32 even with bf16: TRL precomputes in DPOTrainer.__init__, before accelerate wraps the forward in autocast.
    const base = reference === 'base';
    const model = base ? policy : (reference as Model);
    reference = await precomputeReference(
      model,
      trainBatches,
      config.precompute_ref_batch_size ?? config.per_device_train_batch_size,
      config.ld_alpha,
      base,
      dp,
    );
    if (evalBatches)
      evalReference = await precomputeReference(
        model,
        evalBatches,
        config.precompute_ref_batch_size ?? config.per_device_eval_batch_size,
        config.ld_alpha,
        base,
        dp,
      );
    if (!base) await model.dispose();
  }
  const lossOptions: DpoStepOptions = {
    ...lossOptionsOf<DpoLossOptions>(config, lossCatalogue('dpo')),
    bf16: config.bf16 ?? true,
    ...checkpointingOptions(config, policy.config.numLayers),
    router_aux_loss_coef: config.router_aux_loss_coef,
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
      checkpointReference: synced,
      trainStep: (micro) =>
        meanOverMicroBatches(
          micro,
          (indices) => trainBatches.collate(indices),
          (b, indices, how) => policy.dpoStep(b, referenceFor(reference, indices), { ...lossOptions, ...how }),
        ),
      // TRL's prediction_step: the policy without gradients against the eval reference.
      async evalStep(indices) {
        return policy.dpoStep(evalBatches!.collate(indices), referenceFor(evalReference, indices), {
          ...lossOptions,
          backward: false,
        });
      },
      metricRules: METRIC_RULES.dpo,
      // TRL's SyncRefModelCallback.on_step_end: before this step's logging, evaluation and save.
      async onStepEnd(step) {
        if (synced && step % config.ref_model_sync_steps === 0)
          await synced.mixParameters(policy, config.ref_model_mixup_alpha);
      },
    },
    options,
  );
}

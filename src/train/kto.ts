// The KTO recipe: config → unpaired data (data/unpaired) → policy and reference → the KTO step, handed to the
// shared loop (trainer-loop.ts) for optimizer steps, logging, evaluation and checkpoints. It mirrors TRL 1.13's
// KTOTrainer (_compute_loss, _compute_kl_logps, _precompute_ref_logps, sync_ref_model): per micro-batch the
// policy's and the reference's log-probs of the mismatched KL rows give the KL reference point (kto-kl.ts),
// both without autograd; the reference's log-probs of the rows and that point go into Model.ktoStep
// (native/train/kto_step.cpp), the policy's forward, loss and backward.
import type { Table } from 'apache-arrow';
import type { KtoConfig } from '../config/load-config.js';
import { lossCatalogue, lossOptions } from '../config/loss-options.js';
import { splitBatches } from '../data/epoch-batches.js';
import { preprocessUnpaired, usesKl } from '../data/unpaired/preprocess-unpaired.js';
import { UnpairedBatches, type UnpairedBatch } from '../data/unpaired/unpaired-batches.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { Model } from '../model.js';
import type { CompletionLogProbsOptions } from '../types/model.js';
import type { KtoLossOptions, KtoStepOptions } from '../types/steps.js';
import { Tokenizer } from '../tokenizer/index.js';
import { syncedReferenceDir } from './checkpoint.js';
import { adapterBase } from './peft.js';
import { precomputeRefLogProbs } from './auto-precompute.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { referenceDtype } from './reference-dtype.js';
import { klEstimate, klMean } from './kto-kl.js';
import { logpsOf, precomputeReference, referenceFor, type Reference } from './unpaired-reference.js';
import { METRIC_RULES } from './metrics.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { loadTrainingModel, setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';

function checkSupported(config: KtoConfig, note: (message: string) => void): void {
  checkPrecision(config, note);
}

export async function trainKto(config: KtoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkSupported(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  if (adapterBase(modelDir))
    throw configError(
      `trainer: kto starts from a model, not a PEFT adapter folder (${modelDir}); merge it first with alignkit merge, or train fresh adapters with use_peft`,
    );
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenId,
    maxLength: config.max_length,
    padToMultipleOf: config.pad_to_multiple_of,
  };
  // Rank 0 tokenizes into the cache first; the other ranks then read it.
  const table = async (split: 'train' | 'eval'): Promise<Table> =>
    readArrowFile((await dp.mainFirst(() => preprocessUnpaired(config, { split, log: note, refuseEmpty: true }))).path);
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new UnpairedBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    shuffle: config.train_sampling_strategy === 'random',
    evaluates,
  });

  // The KL rows pair each row with a neighbour in its batch (sequential order, which KL loss types require):
  // precomputed alike only from the same batches.
  const sameKlRows = dp.worldSize === 1 && config.precompute_ref_batch_size === null;
  const precompute = precomputeRefLogProbs(
    config,
    { batchesPerEpoch: dp.shard(trainBatches).length, sameValues: !usesKl(config) || sameKlRows },
    note,
  );

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  // With LoRA adapters the reference is the policy with them off (PEFT's disable_adapter), as TRL runs it.
  const lora = policy.config.lora;
  if (lora && config.sync_ref_model)
    throw configError('sync_ref_model is not compatible with PEFT (TRL refuses it too)');
  const dtype = referenceDtype(config, lora, note);
  let reference: Reference = lora
    ? policy
    : await loadTrainingModel(
        config,
        config.sync_ref_model && resumeDir ? syncedReferenceDir(resumeDir) : modelDir,
        dtype,
      );
  const synced = config.sync_ref_model ? (reference as Model) : undefined;
  let evalReference: Reference = reference;
  // bf16 autocast on every forward; gradient checkpointing on the policy's forward with autograd only.
  const forward: CompletionLogProbsOptions = { bf16: config.bf16 ?? true };
  const referenceForward: CompletionLogProbsOptions = { ...forward, adaptersOff: lora };
  if (precompute) {
    // One pass of the reference over each table, then it is freed. In float32 even with bf16: TRL precomputes in
    // KTOTrainer.__init__, before accelerate wraps the forward in autocast.
    const model = reference as Model;
    const options = { bf16: false, adaptersOff: lora };
    reference = await precomputeReference(
      model,
      trainBatches,
      config.precompute_ref_batch_size ?? config.per_device_train_batch_size,
      options,
      dp,
    );
    if (evalBatches)
      evalReference = await precomputeReference(
        model,
        evalBatches,
        config.precompute_ref_batch_size ?? config.per_device_eval_batch_size,
        options,
        dp,
      );
    if (!lora) await model.dispose();
  }
  const stepOptions: KtoStepOptions = {
    ...lossOptions<KtoLossOptions>(config, lossCatalogue('kto')),
    ...forward,
    ...checkpointingOptions(config, policy.config.numLayers),
    router_aux_loss_coef: config.router_aux_loss_coef,
  };
  const kl = usesKl(config);

  // TRL's _compute_loss on one batch: the reference's log-probs and the KL reference point (the policy's KL rows
  // without gradients; the mean over data-parallel ranks), then the policy's step and TRL's metrics.
  const klAcrossRanks = async (mean: number) =>
    dp.worldSize > 1 ? Math.fround((await dp.sum([mean]))[0]! / dp.worldSize) : mean;
  const kto = async (b: UnpairedBatch, indices: number[], ref: Reference, options: KtoStepOptions) => {
    const refLogps = await referenceFor(ref, b, indices, referenceForward);
    const klValue = kl
      ? klEstimate(await klAcrossRanks(klMean((await logpsOf(policy, b.kl!, forward)).logps, refLogps.klLogps!)))
      : 0;
    return policy.ktoStep(b, refLogps.logps, { ...stepOptions, ...options, kl: klValue });
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
          (b, indices, how) => kto(b, indices, reference, how),
        ),
      // TRL's prediction_step: the policy without gradients against the eval reference.
      async evalStep(indices) {
        return kto(evalBatches!.collate(indices), indices, evalReference, { backward: false });
      },
      metricRules: METRIC_RULES.kto,
      // TRL's SyncRefModelCallback.on_step_end: before this step's logging, evaluation and save.
      async onStepEnd(step) {
        if (synced && step % config.ref_model_sync_steps === 0)
          await synced.mixParameters(policy, config.ref_model_mixup_alpha);
      },
    },
    options,
  );
}

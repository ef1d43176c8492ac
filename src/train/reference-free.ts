// The ORPO and CPO recipe (TRL 1.13's experimental ORPOTrainer and CPOTrainer): config → preference pairs tokenized
// by their own tokenize_row (src/data/reference-free/) → the policy alone (no reference model: both losses are
// reference-free) → Model.orpoStep or cpoStep (native/train/reference_free_step.cpp), handed to the shared loop
// (trainer-loop.ts) for optimizer steps, logging, evaluation and checkpoints. LoRA and data parallel come from
// setupPolicy as for DPO.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpoConfig, OrpoConfig } from '../config/load-config.js';
import { lossCatalogue, lossOptions } from '../config/loss-options.js';
import { splitBatches } from '../data/epoch-batches.js';
import { preprocessReferenceFree } from '../data/reference-free/preprocess-reference-free.js';
import { ReferenceFreeBatches } from '../data/reference-free/reference-free-batches.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import type { PreferenceBatch } from '../data/preference-collator.js';
import type { OrpoStepOptions, ReferenceFreeStepResult } from '../types/reference-free-steps.js';
import { Tokenizer } from '../tokenizer/index.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { METRIC_RULES } from './metrics.js';
import { adapterBase } from './peft.js';
import { setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';
import type { Model } from '../model.js';

/** What the recipe passes every step beside the loss options: forward switches and how to back-propagate. */
export type StepHow = Omit<OrpoStepOptions, 'beta'>;

type ReferenceFreeConfig = OrpoConfig | CpoConfig;

/** TRL's max_length: 512 with a warning when unset. */
function maxLengthOf(config: ReferenceFreeConfig, note: (message: string) => void): number {
  if (config.max_length !== null) return config.max_length;
  note(
    `note: max_length is unset; as ${config.trainer === 'orpo' ? 'ORPO' : 'CPO'}Trainer, sequences are cut at 512 tokens`,
  );
  return 512;
}

/**
 * TRL's aux_loss_enabled for these trainers: the model config's output_router_logits, with the model config's
 * router_aux_loss_coef (transformers' default 0.001), not the training config's. 0: no router aux loss.
 */
function routerAuxLossCoef(modelDir: string): number {
  const path = join(adapterBase(modelDir) ?? modelDir, 'config.json');
  const model = JSON.parse(readFileSync(path, 'utf8')) as {
    output_router_logits?: unknown;
    router_aux_loss_coef?: unknown;
  };
  if (model.output_router_logits !== true) return 0;
  return typeof model.router_aux_loss_coef === 'number' ? model.router_aux_loss_coef : 0.001;
}

/** The pad ids of the batches: the collator's (the tokenizer's) and concatenated_inputs' (ORPO's padding_value). */
function padIds(config: ReferenceFreeConfig, tokenizer: Tokenizer, note: (message: string) => void) {
  // CPOTrainer sets pad_token = eos_token when the tokenizer has none; for ORPO the alignment-handbook's orpo.py
  // does (ORPOTrainer's collator would raise).
  if (tokenizer.padTokenId === undefined && config.trainer === 'orpo')
    note(
      `note: the tokenizer has no pad token; padding with eos_token ${tokenizer.eosToken}, as the alignment-handbook's orpo.py sets it`,
    );
  const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId;
  return { padTokenId: pad, paddingValue: config.trainer === 'orpo' ? (config.padding_value ?? pad) : pad };
}

export async function trainReferenceFree(
  config: ReferenceFreeConfig,
  options: TrainOptions,
  step: (policy: Model, batch: PreferenceBatch, how: StepHow) => Promise<ReferenceFreeStepResult>,
): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkPrecision(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const maxLength = maxLengthOf(config, note);
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    ...padIds(config, tokenizer, note),
  };
  // Rank 0 tokenizes into the cache first; the other ranks then read it.
  const table = async (split: 'train' | 'eval') =>
    readArrowFile(
      await dp.mainFirst(() => preprocessReferenceFree(config, tokenizer, { split, log: note, maxLength })),
    );
  const { trainBatches, evalBatches } = await splitBatches(
    (t, o) => new ReferenceFreeBatches(t, o),
    table,
    batchOptions,
    {
      trainBatchSize: config.per_device_train_batch_size,
      evalBatchSize: config.per_device_eval_batch_size,
      shuffle: config.train_sampling_strategy !== 'sequential',
      evaluates,
    },
  );

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  const forward: StepHow = {
    bf16: config.bf16 ?? true,
    ...checkpointingOptions(config, policy.config.numLayers),
    router_aux_loss_coef: routerAuxLossCoef(modelDir),
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
      async trainStep(micro) {
        const out = await meanOverMicroBatches(
          micro,
          (indices) => trainBatches.collate(indices),
          (b, _indices, how) => step(policy, b, { ...forward, ...how }),
        );
        // The Trainer counts floating point operations from an input_ids key, which these trainers' batches lack
        // (chosen_input_ids, ...): TRL's total_flos stays 0.
        return { ...out, micro: out.micro.map((m) => ({ ...m, inputTokens: 0 })) };
      },
      // TRL's prediction_step: the policy without gradients.
      evalStep: (indices) => step(policy, evalBatches!.collate(indices), { ...forward, backward: false }),
      metricRules: METRIC_RULES.referenceFree,
    },
    options,
  );
}

/** The config's loss options for the family's native step, by their TRL names. */
export const referenceFreeLossOptions = <O extends object>(config: ReferenceFreeConfig) =>
  lossOptions<O>(config as never, lossCatalogue(config.trainer));

// The DPO recipe: config → data → policy and reference → the DPO step, handed to the shared loop
// (trainer-loop.ts) for optimizer steps, logging, evaluation and checkpoints. It mirrors TRL 1.13's DPOTrainer
// (_precompute_ref_logps, sync_ref_model, prediction_step); the DPO step itself is Model.dpoStep
// (native/train/dpo_step.cpp).
import type { Table } from 'apache-arrow';
import type { DpoConfig } from '../config/load-config.js';
import type { PreferenceBatch } from '../data/preference-collator.js';
import { PreferenceBatches } from '../data/preference-batches.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { DpoReference, DpoStepOptions, Model } from '../model.js';
import { Tokenizer } from '../tokenizer/index.js';
import { syncedReferenceDir } from './checkpoint.js';
import type { MetricParts } from './metric-parts.js';
import { adapterBase } from './peft.js';
import {
  checkEvalDataset, checkPrecision, loadTrainingModel, meanOverMicroBatches, runTrainer, setupPolicy,
  type TrainOptions, type TrainResult,
} from './trainer-loop.js';

/** Options alignkit does not implement yet are an error when they would change the result, a note when not. */
function checkSupported(config: DpoConfig, note: (message: string) => void): void {
  checkPrecision(config, note);
  if (config.sync_ref_model && config.precompute_ref_log_probs) {
    throw configError('sync_ref_model cannot be combined with precompute_ref_log_probs: the synced reference would make the precomputed log-probs stale (TRL refuses it too)');
  }
  if (config.padding_free) note('note: padding_free is disabled in TRL 1.13 too; training with padding');
}

/** TRL: pad_token, else the tokenizer's pad token, else its eos token; it must be in the vocabulary. */
export function padTokenId(config: Pick<DpoConfig, 'pad_token'>, tokenizer: Tokenizer): number {
  if (config.pad_token === null) return tokenizer.padTokenId ?? tokenizer.eosTokenId;
  const id = tokenizer.tokenToId(config.pad_token);
  if (id === undefined) throw configError(`pad_token '${config.pad_token}' is not in the tokenizer's vocabulary`);
  return id;
}

/**
 * TRL's _precompute_ref_logps: the reference's log-probs of every row, in table order, without gradients; with
 * ld_alpha, LD-weighted as TRL stores them (shared + ld_alpha · tail). Data-parallel ranks each take a block of
 * rows and gather the rest.
 */
async function precomputeReference(reference: Model, batches: PreferenceBatches, batchSize: number, ldAlpha: number | null,
  adaptersOff: boolean, dp: DataParallel) {
  const { first, end, size: block } = dp.rowBlock(batches.rows);
  const chosen = new Float32Array(block);
  const rejected = new Float32Array(block);
  for (let start = first; start < end; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, end - start) }, (_, i) => start + i);
    const b = batches.collate(indices);
    const { logps, tailLogps } = await reference.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask,
      { seqLen: b.seqLen, pairTail: ldAlpha !== null, adaptersOff });
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

const TOKEN_METRICS = new Set(['entropy', 'logits/chosen', 'logits/rejected', 'mean_token_accuracy']);

/**
 * The parts TRL gathers for a batch's metrics (DPOTrainer._compute_loss): the pair metrics over the batch's pairs,
 * entropy over every completion token, logits/ and mean_token_accuracy over one side's (completion_mask[:, 1:]).
 */
function dpoParts(b: PreferenceBatch, metrics: object): MetricParts {
  const tokens = [0, 0];
  for (let row = 0; row < 2 * b.pairs; row++) {
    for (let t = row * b.seqLen + 1; t < (row + 1) * b.seqLen; t++) tokens[row < b.pairs ? 0 : 1]! += b.completionMask[t]!;
  }
  const [chosen, rejected] = tokens as [number, number];
  const count: Record<string, number> = {
    entropy: chosen + rejected, 'logits/chosen': chosen, 'logits/rejected': rejected, mean_token_accuracy: chosen,
  };
  const parts: MetricParts = {};
  for (const [key, value] of Object.entries(metrics as Record<string, number>)) {
    if (key === 'num_tokens') continue;
    const n = TOKEN_METRICS.has(key) ? count[key]! : b.pairs;
    parts[key] = [value * n, n];
  }
  return parts;
}

type Reference = Model | 'base' | { chosen: Float32Array; rejected: Float32Array };

function referenceFor(reference: Reference, indices: number[]): DpoReference {
  if (reference === 'base' || !('chosen' in reference)) return reference;
  return { chosen: Float32Array.from(indices, (i) => reference.chosen[i]!), rejected: Float32Array.from(indices, (i) => reference.rejected[i]!) };
}

/**
 * TRL's reference: a copy of the initial policy. With fresh LoRA adapters (use_peft) it is the policy with them off
 * ('base', no second copy of the weights); from a PEFT adapter folder, TRL adds a frozen "ref" copy of that adapter,
 * so the reference is the base model with the folder's adapter.
 */
async function loadReference(config: DpoConfig, policy: Model, resumeDir: string | null, referenceDir: string): Promise<Model | 'base'> {
  const start = config.model_name_or_path!;
  const base = adapterBase(start);
  if (policy.config.lora && config.sync_ref_model) throw configError('sync_ref_model is not compatible with PEFT (TRL refuses it too)');
  if (base) {
    const reference = await loadTrainingModel(config, base);
    await reference.loadAdapter(start);
    return reference;
  }
  if (policy.config.lora) return 'base';
  return loadTrainingModel(config, config.sync_ref_model && resumeDir ? syncedReferenceDir(resumeDir) : referenceDir);
}

/** `referenceDir`: the reference's folder when it is not model_name_or_path (TRL's ref_model; online DPO's fixed reference). */
export async function trainDpo(config: DpoConfig, options: TrainOptions = {}, referenceDir = config.model_name_or_path!): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkSupported(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const batchOptions = {
    seed: config.data_seed ?? config.seed, groupByLength: false, dropLast: config.dataloader_drop_last,
    padTokenId: padTokenId(config, tokenizer), maxLength: config.max_length,
    truncationMode: config.truncation_mode, padToMultipleOf: config.pad_to_multiple_of,
  };
  // Rank 0 tokenizes into the cache first; the other ranks then read it.
  const table = async (split: 'train' | 'eval'): Promise<Table> =>
    readArrowFile((await dp.mainFirst(() => preprocessPreferences(config, { split, log: note, refuseEmpty: true }))).path);
  const trainBatches = new PreferenceBatches(await table('train'), { ...batchOptions, batchSize: config.per_device_train_batch_size, shuffle: config.train_sampling_strategy !== 'sequential' });
  const evalBatches = evaluates
    ? new PreferenceBatches(await table('eval'), { ...batchOptions, batchSize: config.per_device_eval_batch_size, shuffle: false })
    : null;

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  let reference: Reference = await loadReference(config, policy, resumeDir, referenceDir);
  // TR-DPO: the reference moves toward the policy during training, so checkpoints hold it too.
  const synced = config.sync_ref_model ? (reference as Model) : undefined;
  let evalReference: Reference = reference;
  if (config.precompute_ref_log_probs) {
    // One pass of the reference over each table; a reference model is then freed ('base' is the policy itself).
    // In float32 even with bf16: TRL precomputes in DPOTrainer.__init__, before accelerate wraps the forward in autocast.
    const base = reference === 'base';
    const model = base ? policy : (reference as Model);
    reference = await precomputeReference(model, trainBatches, config.precompute_ref_batch_size ?? config.per_device_train_batch_size, config.ld_alpha, base, dp);
    if (evalBatches) evalReference = await precomputeReference(model, evalBatches, config.precompute_ref_batch_size ?? config.per_device_eval_batch_size, config.ld_alpha, base, dp);
    if (!base) await model.dispose();
  }
  const lossOptions: DpoStepOptions = {
    beta: config.beta, loss_type: config.loss_type, loss_weights: config.loss_weights, label_smoothing: config.label_smoothing,
    use_weighting: config.use_weighting, ld_alpha: config.ld_alpha, f_divergence_type: config.f_divergence_type,
    f_alpha_divergence_coef: config.f_alpha_divergence_coef, discopop_tau: config.discopop_tau,
    bf16: config.bf16 ?? true, gradient_checkpointing: config.gradient_checkpointing,
  };

  return runTrainer({
    config, policy, optimizer, resumed, resumeDir, trainBatches, evalBatches, checkpointReference: synced,
    trainStep: (micro) => meanOverMicroBatches(micro, (indices) => trainBatches.collate(indices), async (b, indices, how) => {
      const out = await policy.dpoStep(b, referenceFor(reference, indices), { ...lossOptions, ...how });
      return { loss: out.loss, metrics: out.metrics, parts: dp.worldSize > 1 ? dpoParts(b, out.metrics) : undefined };
    }),
    // TRL's prediction_step: the policy without gradients against the eval reference.
    async evalStep(indices) {
      const b = evalBatches!.collate(indices);
      const out = await policy.dpoStep(b, referenceFor(evalReference, indices), { ...lossOptions, backward: false });
      return { loss: out.loss, metrics: out.metrics, parts: dp.worldSize > 1 ? dpoParts(b, out.metrics) : undefined };
    },
    // TRL's SyncRefModelCallback.on_step_end: before this step's logging, evaluation and save.
    async onStepEnd(step) {
      if (synced && step % config.ref_model_sync_steps === 0) await synced.mixParameters(policy, config.ref_model_mixup_alpha);
    },
  }, options);
}

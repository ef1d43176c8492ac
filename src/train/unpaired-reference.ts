// The reference's side of the unpaired trainers (KTO, BCO): its log-probs of a batch's rows (and of KTO's KL rows)
// from the reference model (or the policy with its adapters off), or precomputed once per table row.
import type { CompletionRows, UnpairedBatch, UnpairedBatches } from '../data/unpaired/unpaired-batches.js';
import type { DataParallel } from '../distributed/data-parallel.js';
import type { Model } from '../model.js';
import type { CompletionLogProbsOptions } from '../types/model.js';

/** The reference's log-probs of a batch's rows and of its KL rows: from the model, or precomputed per table row. */
export interface ReferenceLogps {
  logps: Float32Array;
  klLogps?: Float32Array;
}

export type Reference = Model | ReferenceLogps;

export const logpsOf = (model: Model, rows: CompletionRows, options: CompletionLogProbsOptions) =>
  model.completionLogProbs(rows.inputIds, rows.attentionMask, rows.completionMask, { ...options, seqLen: rows.seqLen });

async function referenceLogps(
  model: Model,
  b: UnpairedBatch,
  options: CompletionLogProbsOptions,
): Promise<ReferenceLogps> {
  const { logps } = await logpsOf(model, b, options);
  return { logps, klLogps: b.kl && (await logpsOf(model, b.kl, options)).logps };
}

/**
 * TRL's _precompute_ref_logps: the reference's log-probs of every row (and KL row), in table order, without
 * gradients. Data-parallel ranks each take a block of rows and gather the rest.
 */
export async function precomputeReference(
  model: Model,
  batches: UnpairedBatches,
  batchSize: number,
  options: CompletionLogProbsOptions,
  dp: DataParallel,
) {
  const { first, end, size: block } = dp.rowBlock(batches.rows);
  const local: ReferenceLogps = { logps: new Float32Array(block) };
  for (let start = first; start < end; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, end - start) }, (_, i) => start + i);
    const ref = await referenceLogps(model, batches.collate(indices), options);
    local.logps.set(ref.logps, start - first);
    if (ref.klLogps) (local.klLogps ??= new Float32Array(block)).set(ref.klLogps, start - first);
  }
  const all = async (values: Float32Array) => (await dp.gather(values)).slice(0, batches.rows);
  // Every rank has KL rows or none (usesKl), so the gathers match.
  return { logps: await all(local.logps), klLogps: local.klLogps && (await all(local.klLogps)) };
}

export function referenceFor(
  reference: Reference,
  b: UnpairedBatch,
  indices: number[],
  options: CompletionLogProbsOptions,
) {
  if (!('logps' in reference)) return referenceLogps(reference, b, options);
  const pick = (values: Float32Array | undefined) => values && Float32Array.from(indices, (i) => values[i]!);
  return { logps: pick(reference.logps)!, klLogps: pick(reference.klLogps) };
}

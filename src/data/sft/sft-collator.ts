// TRL 1.13's DataCollatorForLanguageModeling (trainer/sft_trainer.py) over Arrow columns. Padded: rows right-
// padded to the longest (rounded up to pad_to_multiple_of), input ids with the pad token, labels with -100, an
// attention mask. Padding-free: every row concatenated into one, position ids restarting at 0 for each sequence
// (per packed sequence when the rows carry seq_lengths), and the label of each sequence's first token set to
// -100 so no sequence learns to predict the start of the next; no attention mask. Writes straight into the
// contiguous buffers the native step reads, with no per-row arrays.
import type { Table } from 'apache-arrow';
import type { SftConfig } from '../../config/load-config.js';
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { idColumn, type IdColumn } from '../token-table.js';
import { eosTokenOf } from './tokenize-sft.js';

export interface SftColumns {
  inputIds: IdColumn;
  labels: IdColumn;
  /** Lengths of the sequences in each packed row (bfd, bfd_split packing). */
  seqLengths?: IdColumn;
}

export interface SftCollateOptions {
  padTokenId: number;
  /** Flatten the batch into one row with per-sequence position ids (TRL's padding_free). */
  paddingFree: boolean;
  padToMultipleOf: number | null;
  /** Position ids in padded batches too (TRL's return_position_ids, set for sequence parallelism). */
  returnPositionIds?: boolean;
}

/** A batch, row-major (rows, seqLen). */
export interface SftBatch {
  /** Rows of the batch: the number of examples, or 1 when padding-free. */
  rows: number;
  seqLen: number;
  inputIds: Int32Array;
  /** Target ids, -100 where no loss is taken (padding, masked prompt or non-assistant tokens, sequence starts). */
  labels: Int32Array;
  /** 1 on real tokens; null when padding-free (attention follows positionIds there). */
  attentionMask: Uint8Array | null;
  /** Position of each token in its sequence; padding-free or returnPositionIds only. */
  positionIds: Int32Array | null;
}

export function sftColumns(table: Table): SftColumns {
  const hasSeqLengths = table.schema.fields.some((f) => f.name === 'seq_lengths');
  return {
    inputIds: idColumn(table, 'input_ids'),
    labels: idColumn(table, 'labels'),
    ...(hasSeqLengths ? { seqLengths: idColumn(table, 'seq_lengths') } : {}),
  };
}

/**
 * The collator SFTTrainer builds: pad token from pad_token, else the tokenizer's, else the EOS token (after the
 * eos_token override); padding-free when asked or when packing with bfd / bfd_split.
 */
export function sftCollateOptions(
  config: Pick<
    SftConfig,
    'pad_token' | 'eos_token' | 'padding_free' | 'packing' | 'packing_strategy' | 'pad_to_multiple_of'
  >,
  tokenizer: Tokenizer,
): SftCollateOptions {
  const padToken = config.pad_token ?? tokenizer.padToken ?? eosTokenOf(tokenizer, config.eos_token);
  const padTokenId = tokenizer.tokenToId(padToken);
  if (padTokenId === undefined) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `config: pad token '${padToken}' is not in the tokenizer's vocabulary`,
    );
  }
  return {
    padTokenId,
    paddingFree: config.padding_free || (config.packing && config.packing_strategy !== 'wrapped'),
    padToMultipleOf: config.pad_to_multiple_of,
  };
}

const span = (c: IdColumn, i: number) => c.values.subarray(c.offsets[i], c.offsets[i + 1]);
const roundUp = (n: number, multiple: number | null) => (multiple ? Math.ceil(n / multiple) * multiple : n);

/** Positions 0, 1, ... restarting at each sequence of the row (one sequence when it has no seq_lengths). */
function writePositions(out: Int32Array, at: number, length: number, seqLengths: Int32Array | undefined): void {
  let t = 0;
  for (const n of seqLengths ?? [length]) {
    for (let p = 0; p < n && t < length; p++) out[at + t++] = p;
  }
}

export function collateSft(columns: SftColumns, indices: readonly number[], options: SftCollateOptions): SftBatch {
  const { inputIds: ids, labels, seqLengths } = columns;
  const withPositions = options.paddingFree || options.returnPositionIds === true;
  const lengths = indices.map((i) => Math.max(span(ids, i).length, span(labels, i).length));

  const rows = options.paddingFree ? 1 : indices.length;
  const seqLen = roundUp(
    options.paddingFree ? lengths.reduce((a, b) => a + b, 0) : Math.max(0, ...lengths),
    options.padToMultipleOf,
  );
  const inputIds = new Int32Array(rows * seqLen).fill(options.padTokenId);
  const labelsOut = new Int32Array(rows * seqLen).fill(-100);
  const attentionMask = options.paddingFree ? null : new Uint8Array(rows * seqLen);
  const positionIds = withPositions ? new Int32Array(rows * seqLen) : null;

  let at = 0;
  indices.forEach((i, b) => {
    const rowIds = span(ids, i);
    if (!options.paddingFree) at = b * seqLen;
    inputIds.set(rowIds, at);
    labelsOut.set(span(labels, i), at);
    attentionMask?.fill(1, at, at + rowIds.length);
    if (positionIds) writePositions(positionIds, at, rowIds.length, seqLengths ? span(seqLengths, i) : undefined);
    if (options.paddingFree) at += lengths[b]!;
  });
  if (options.paddingFree) {
    // labels[position_ids == 0] = -100, padding included
    for (let t = 0; t < seqLen; t++) if (positionIds![t] === 0) labelsOut[t] = -100;
  }
  return { rows, seqLen, inputIds, labels: labelsOut, attentionMask, positionIds };
}

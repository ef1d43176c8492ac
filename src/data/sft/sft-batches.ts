// Epochs of SFT batches: a row's length is its input_ids.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from '../epoch-batches.js';
import { rowLengths } from '../length-stats.js';
import { collateSft, sftColumns, type SftBatch, type SftCollateOptions } from './sft-collator.js';

export type SftBatchOptions = EpochOptions & SftCollateOptions;

export class SftBatches extends EpochBatches<SftBatch> {
  constructor(table: Table, options: SftBatchOptions) {
    const columns = sftColumns(table);
    super(rowLengths(columns.inputIds), options, (indices) => collateSft(columns, indices, options));
  }
}

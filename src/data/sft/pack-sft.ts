// TRL 1.13's pack_dataset (data_utils.py) on tokenized SFT rows: `bfd` (Best Fit Decreasing, sequences longer
// than max_length cut), `bfd_split` (the same, long sequences split into max_length pieces first) and `wrapped`
// (everything concatenated and cut every max_length tokens). Like TRL, packing runs per datasets.map batch:
// 1,000 rows, within each of dataset_num_proc contiguous shards (mapBatches), so rows never pack across them.
import { AlignkitError } from '../../errors.js';
import type { SftIds } from './tokenize-sft.js';

export type PackingStrategy = 'bfd' | 'bfd_split' | 'wrapped';

/** A packed row; `seq_lengths` (bfd, bfd_split) gives the lengths of the sequences it holds, in order. */
export interface PackedSftIds extends SftIds {
  seq_lengths?: number[];
}

/** datasets.map's default batch_size, the unit pack_dataset works in. */
export const MAP_BATCH_ROWS = 1000;

/**
 * [start, end) of each datasets.map batch over `rows` rows: num_proc (at most `rows`) contiguous shards as
 * Dataset.shard(contiguous=True) cuts them, each in batches of 1,000.
 */
export function mapBatches(rows: number, numProc: number | null, batchRows = MAP_BATCH_ROWS): [number, number][] {
  const shards = Math.max(1, Math.min(numProc ?? 1, rows));
  const div = Math.floor(rows / shards);
  const mod = rows % shards;
  const batches: [number, number][] = [];
  for (let index = 0; index < shards; index++) {
    const start = div * index + Math.min(index, mod);
    const end = start + div + (index < mod ? 1 : 0);
    for (let b = start; b < end; b += batchRows) batches.push([b, Math.min(b + batchRows, end)]);
  }
  return batches;
}

/**
 * Finds the smallest free space >= a length among those added, in O(log maxval) (data_utils.py: _SegmentTree,
 * from "Fewer Truncations Improve Language Modeling", https://huggingface.co/papers/2404.10830).
 */
class SegmentTree {
  readonly #size: number;
  readonly #tree: Int32Array;

  constructor(maxval: number) {
    let size = 1;
    while (size < maxval) size *= 2;
    this.#size = size;
    this.#tree = new Int32Array(2 * this.#size);
  }

  #set(val: number, to: number): void {
    let i = this.#size + val - 1;
    this.#tree[i] = to;
    while (i > 1) {
      i >>= 1;
      this.#tree[i] = Math.max(this.#tree[2 * i]!, this.#tree[2 * i + 1]!);
    }
  }

  add(val: number): void {
    this.#set(val, val);
  }

  remove(val: number): void {
    this.#set(val, 0);
  }

  search(val: number): number {
    let i = 1;
    while (i < this.#size) i = this.#tree[2 * i]! >= val ? 2 * i : 2 * i + 1;
    return this.#tree[i]!;
  }
}

interface Bin {
  ids: number[];
  length: number;
}

/** The bins of Best Fit Decreasing over sequence lengths (each <= seqLength), as TRL's _pack_bfd fills them. */
function bestFitDecreasing(lengths: number[], seqLength: number): Bin[] {
  // pyarrow's sort is stable: equal lengths keep their row order.
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const tree = new SegmentTree(seqLength);
  tree.add(seqLength); // a new, empty bin is always available
  const spaceToBin = new Map<number, Bin[]>();
  const bins: Bin[] = [];
  for (const idx of order) {
    const length = lengths[idx]!;
    let space = tree.search(length);
    let bin: Bin;
    if (space < seqLength) {
      const queue = spaceToBin.get(space)!;
      bin = queue.shift()!;
      if (queue.length === 0) tree.remove(space);
    } else {
      bin = { ids: [], length: 0 };
      bins.push(bin);
    }
    bin.ids.push(idx);
    bin.length += length;
    space -= length;
    const queue = spaceToBin.get(space) ?? [];
    queue.push(bin);
    spaceToBin.set(space, queue);
    if (space > 0) tree.add(space);
  }
  return bins;
}

/** The pieces TRL's _pack_bfd makes of one row: cut to seqLength (bfd) or split into seqLength pieces (bfd_split). */
function pieces(row: SftIds, seqLength: number, split: boolean): SftIds[] {
  const n = row.input_ids.length;
  if (!split) return [{ input_ids: row.input_ids.slice(0, seqLength), labels: row.labels.slice(0, seqLength) }];
  const out: SftIds[] = [];
  for (let s = 0; s < n; s += seqLength) {
    out.push({ input_ids: row.input_ids.slice(s, s + seqLength), labels: row.labels.slice(s, s + seqLength) });
  }
  return out;
}

/** One datasets.map batch through TRL's _pack_bfd or _pack_wrapped. */
export function packBatch(rows: SftIds[], seqLength: number, strategy: PackingStrategy): PackedSftIds[] {
  for (const row of rows) {
    if (row.labels.length !== row.input_ids.length) {
      // _check_if_columns_can_be_packed
      throw new AlignkitError(
        'ERR_INVALID_DATA',
        'packing needs labels as long as input_ids in every row (TRL: "All columns must have values of the same length")',
      );
    }
  }
  if (strategy === 'wrapped') {
    const ids = rows.flatMap((r) => r.input_ids);
    const labels = rows.flatMap((r) => r.labels);
    const out: PackedSftIds[] = [];
    for (let s = 0; s < ids.length; s += seqLength) {
      out.push({ input_ids: ids.slice(s, s + seqLength), labels: labels.slice(s, s + seqLength) });
    }
    return out;
  }
  const sequences = rows
    .filter((r) => r.input_ids.length > 0)
    .flatMap((r) => pieces(r, seqLength, strategy === 'bfd_split'));
  const bins = bestFitDecreasing(
    sequences.map((s) => s.input_ids.length),
    seqLength,
  );
  return bins.map((bin) => {
    const members = bin.ids.map((i) => sequences[i]!);
    return {
      input_ids: members.flatMap((m) => m.input_ids),
      labels: members.flatMap((m) => m.labels),
      seq_lengths: members.map((m) => m.input_ids.length),
    };
  });
}

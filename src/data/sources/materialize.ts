// Writes the rows a split or mixture resolves to as one JSON Lines file that every trainer reads like any local
// dataset. The sources are read once, in datasets' file order, into a scratch file of JSON lines; the chosen rows
// are then copied out in their final order. A file whose name carries the fingerprint of its inputs (the data
// files' identities and the recipe) is reused as is.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { readRows, type DatasetFormat } from '../readers/index.js';

/** One dataset split to read: its data files in order, and the columns kept (null: all). */
export interface SourceSplit {
  /** Names it in messages (`HuggingFaceH4/ultrafeedback_binarized split train_prefs`). */
  label: string;
  files: { path: string; format: DatasetFormat }[];
  columns: string[] | null;
}

export interface MaterializeOptions {
  /** Folder the JSON Lines files go to (created when missing). */
  dir: string;
  /** Everything besides the data files that decides the rows (mixture spec, split names...); part of the fingerprint. */
  recipe: unknown;
  skipInvalidRows?: boolean;
  log: (message: string) => void;
}

/** The rows of each output, as indices into the sources' rows concatenated; null: that output is not written. */
export type RowPlan<R extends string> = (counts: number[]) => Record<R, Uint32Array | null>;

const FORMAT_VERSION = 1;
const FLUSH_BYTES = 1 << 20;

/**
 * What identifies a data file's content: in a hub cache snapshot, its repo path and the blob it links to (named by
 * the file's hash, so the same on every machine); elsewhere its path, size and mtime (datasets' origin metadata).
 */
function fileIdentity(path: string): unknown[] {
  const real = realpathSync(path);
  const inSnapshot = /\/snapshots\/[^/]+\/(.+)$/.exec(path);
  if (inSnapshot && basename(dirname(real)) === 'blobs') return [inSnapshot[1], basename(real)];
  const stats = statSync(path);
  return [path, stats.size, stats.mtimeMs];
}

/** The fingerprint of the inputs: every data file's identity and reader, each source's columns, and the recipe. */
function fingerprintOf(sources: SourceSplit[], recipe: unknown): string {
  const files = sources.map((source) => ({
    columns: source.columns,
    files: source.files.map(({ path, format }) => [...fileIdentity(path), format]),
  }));
  return createHash('sha256')
    .update(JSON.stringify({ version: FORMAT_VERSION, files, recipe }))
    .digest('hex')
    .slice(0, 16);
}

/** A row as one JSON line: dates as ISO strings (their toJSON); binary columns cannot be written. */
function jsonLine(values: Record<string, unknown>, where: () => string): Buffer {
  for (const [column, value] of Object.entries(values)) {
    if (value instanceof Uint8Array) {
      throw new AlignkitError(
        'ERR_INVALID_DATA',
        `${where()}: column '${column}' holds binary values, which JSON Lines cannot hold; keep only the text columns (columns: [...])`,
      );
    }
  }
  return Buffer.from(`${JSON.stringify(values)}\n`);
}

interface Spooled {
  path: string;
  counts: number[];
  starts: number[];
  lengths: number[];
  /** Every column seen, in order of first appearance across the sources: the concatenated dataset's columns. */
  columns: string[];
  /** Per row, its keys in order (an index into `shapes`), to tell the rows that must be completed on output. */
  shapeOf: number[];
  shapes: string[];
}

/** Every row of every source as one JSON line in a scratch file, with where each row starts and its length. */
async function spool(sources: SourceSplit[], path: string, options: MaterializeOptions): Promise<Spooled> {
  const handle = await open(path, 'w');
  const spooled: Spooled = { path, counts: [], starts: [], lengths: [], columns: [], shapeOf: [], shapes: [] };
  const known = new Set<string>();
  const shapeIds = new Map<string, number>();
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    await handle.write(Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (const source of sources) {
      let count = 0;
      const seen = new Set<string>();
      for (const { path: file, format } of source.files) {
        const rows = readRows(file, {
          format,
          columns: source.columns ?? undefined,
          skipInvalidRows: options.skipInvalidRows,
          onSkip: (error) => options.log(`skipped: ${error.message}`),
        });
        for await (const { values, row } of rows) {
          let picked = values;
          if (source.columns) {
            // select_columns: the named columns in that order; a JSON row without one has null there, as in datasets' table.
            picked = {};
            for (const column of source.columns) {
              if (column in values) seen.add(column);
              picked[column] = values[column] ?? null;
            }
          }
          const keys = Object.keys(picked);
          for (const key of keys) {
            if (known.has(key)) continue;
            known.add(key);
            spooled.columns.push(key);
          }
          const shape = keys.join('\0');
          if (!shapeIds.has(shape)) shapeIds.set(shape, spooled.shapes.push(shape) - 1);
          spooled.shapeOf.push(shapeIds.get(shape)!);
          const line = jsonLine(picked, () => `${file} row ${row}`);
          spooled.starts.push(offset);
          spooled.lengths.push(line.length);
          offset += line.length;
          pending.push(line);
          pendingBytes += line.length;
          if (pendingBytes >= FLUSH_BYTES) await flush();
          count += 1;
        }
      }
      const missing = (source.columns ?? []).filter((column) => count > 0 && !seen.has(column));
      if (missing.length > 0) {
        throw new AlignkitError(
          'ERR_INVALID_DATA',
          `${source.label}: no column ${missing.map((c) => `'${c}'`).join(', ')} in the dataset (columns: ${JSON.stringify(source.columns)})`,
        );
      }
      spooled.counts.push(count);
    }
    await flush();
  } finally {
    await handle.close();
  }
  return spooled;
}

/** Spools up to this size are read into memory whole to copy rows out; larger ones row by row. */
const IN_MEMORY_BYTES = 1 << 30;

/**
 * Copies the spooled rows at `indices`, in that order, into `path` (through a temporary name, so a crash leaves
 * nothing). As in a datasets table, every row has every column, in the columns' order: a row missing some (a JSON
 * row without a key, or a source without a column the others have) gets null there.
 */
async function writeRows(spooled: Spooled, indices: Uint32Array, path: string): Promise<void> {
  const complete = spooled.columns.join('\0');
  const completed = (line: Buffer): Buffer => {
    const values = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
    return Buffer.from(`${JSON.stringify(Object.fromEntries(spooled.columns.map((c) => [c, values[c] ?? null])))}\n`);
  };
  const size =
    spooled.starts.length > 0
      ? spooled.starts[spooled.starts.length - 1]! + spooled.lengths[spooled.lengths.length - 1]!
      : 0;
  const whole = size <= IN_MEMORY_BYTES ? readFileSync(spooled.path) : null;
  const input = whole ? null : openSync(spooled.path, 'r');
  const lineAt = (index: number): Buffer => {
    const start = spooled.starts[index]!;
    const length = spooled.lengths[index]!;
    if (whole) return whole.subarray(start, start + length);
    const line = Buffer.allocUnsafe(length);
    readSync(input!, line, 0, length, start);
    return line;
  };
  const temp = `${path}.${process.pid}.tmp`;
  const out = await open(temp, 'w');
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for (const index of indices) {
      const raw = lineAt(index);
      const line = spooled.shapes[spooled.shapeOf[index]!] === complete ? raw : completed(raw);
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= FLUSH_BYTES) {
        await out.write(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
    await out.write(Buffer.concat(pending));
  } finally {
    if (input !== null) closeSync(input);
    await out.close();
  }
  renameSync(temp, path);
}

/**
 * The JSON Lines file of each output `plan` chooses from `sources`, named `<output>-<fingerprint>.jsonl` in
 * `options.dir`; files already there are reused without reading a source. null for an output the plan leaves out.
 */
export async function materialize<R extends string>(
  sources: SourceSplit[],
  outputs: readonly R[],
  plan: RowPlan<R>,
  options: MaterializeOptions,
): Promise<Record<R, string | null>> {
  const key = fingerprintOf(sources, options.recipe);
  mkdirSync(options.dir, { recursive: true });
  const pathOf = (output: R) => join(options.dir, `${output}-${key}.jsonl`);
  const manifest = join(options.dir, `rows-${key}.json`);
  if (existsSync(manifest)) {
    const written = JSON.parse(readFileSync(manifest, 'utf8')) as R[];
    if (written.every((output) => existsSync(pathOf(output)))) {
      options.log(`datasets: reusing ${written.map(pathOf).join(', ')}`);
      return Object.fromEntries(
        outputs.map((output) => [output, written.includes(output) ? pathOf(output) : null]),
      ) as Record<R, string | null>;
    }
  }
  const scratch = join(options.dir, `rows-${key}.${process.pid}.spool`);
  try {
    const spooled = await spool(sources, scratch, options);
    const rows = plan(spooled.counts);
    const result = {} as Record<R, string | null>;
    for (const output of outputs) {
      const indices = rows[output];
      result[output] = indices ? pathOf(output) : null;
      if (indices) await writeRows(spooled, indices, pathOf(output));
    }
    const counts = outputs.map((output) => `${output} ${rows[output]?.length ?? 0}`).join(', ');
    options.log(
      `datasets: ${sources.map((s, k) => `${s.label} (${spooled.counts[k]} rows)`).join(' + ')} → ${counts} rows, written to ${options.dir}`,
    );
    // Written last: its presence says every output above is complete.
    const temp = `${manifest}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(outputs.filter((output) => rows[output])));
    renameSync(temp, manifest);
    return result;
  } finally {
    rmSync(scratch, { force: true });
  }
}

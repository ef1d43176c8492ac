// Arrow IPC files and streams (.arrow, .feather, and the shards `save_to_disk` writes) through apache-arrow,
// one record batch in memory at a time: the file reader seeks to each batch, the stream reader reads on.
import { open } from 'node:fs/promises';
import { RecordBatchReader, type Field, type Schema } from 'apache-arrow';
import { AlignkitError } from '../../errors.js';
import { arrowValue } from './arrow-values.js';
import { checkColumns } from './columns.js';
import type { RowPlace } from './plain-values.js';
import { fileError, rejectRow } from './read-errors.js';
import type { ReadOptions, SourceRow } from './types.js';

/**
 * The rows of one Arrow IPC file or stream (told apart by apache-arrow from the bytes). Rows are
 * reported as `file`, numbered from `firstRow`: a save_to_disk folder numbers its shards as one dataset.
 * Returns how many rows the file holds.
 */
export async function* readArrow(
  path: string,
  options: ReadOptions,
  file = path,
  firstRow = 0,
): AsyncGenerator<SourceRow, number> {
  const handle = await open(path);
  let row = firstRow;
  try {
    const reader = await (await RecordBatchReader.from(handle)).open();
    const fields = selectFields(reader.schema as Schema | undefined, options.columns, path);
    for await (const batch of reader) {
      const columns = fields.map((field) => batch.getChild(field.name)!);
      for (let i = 0; i < batch.numRows; i++, row++) {
        const values = plainRow(fields, (j) => columns[j]!.get(i), { file, row }, options);
        if (values) yield { values, file, row };
      }
    }
  } catch (error) {
    throw fileError(path, 'not a readable Arrow IPC file or stream', withCompressionHint(error));
  } finally {
    await handle.close();
  }
  return row - firstRow;
}

function selectFields(schema: Schema | undefined, columns: string[] | undefined, path: string): Field[] {
  if (!schema) throw fileError(path, 'not an Arrow IPC file or stream (no schema message)');
  if (!columns) return schema.fields;
  checkColumns(
    columns,
    schema.fields.map((field) => field.name),
    path,
  );
  return columns.map((name) => schema.fields.find((field) => field.name === name)!);
}

function plainRow(
  fields: Field[],
  valueAt: (column: number) => unknown,
  place: RowPlace,
  options: ReadOptions,
): Record<string, unknown> | undefined {
  try {
    return Object.fromEntries(
      fields.map((field, j) => [field.name, arrowValue(valueAt(j), field.type, place, field.name)]),
    );
  } catch (error) {
    if (!(error instanceof AlignkitError)) throw error;
    rejectRow(error, options);
    return undefined;
  }
}

// apache-arrow has no LZ4/ZSTD codec for IPC body compression (pyarrow.feather writes LZ4 by default).
function withCompressionHint(error: unknown): unknown {
  if (!(error instanceof Error) || !error.message.includes('compressed but codec not found')) return error;
  return new Error(
    `${error.message}: compressed Arrow IPC is not supported; rewrite it uncompressed, e.g. ` +
      `pyarrow.feather.write_feather(table, path, compression="uncompressed")`,
  );
}

// CSV with a header row, streamed through csv-parse. Values stay the strings written: `datasets` (pandas)
// infers column types from the whole file, which a stream cannot see, and per-value guessing would turn
// an answer like "4" into a number. A column that must be numeric is for the caller to convert.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import type { AlignkitError } from '../../errors.js';
import { checkColumns } from './columns.js';
import { fileError, rejectRow, rowError } from './read-errors.js';
import type { ReadOptions, SourceRow } from './types.js';

interface NumberedRecord {
  values: Record<string, string>;
  row: number;
}

/** The records of a CSV file as {column: string}; as in pandas, blank lines are not rows. */
export async function* readCsv(path: string, options: ReadOptions): AsyncGenerator<SourceRow> {
  // Rows are numbered as csv-parse meets them, skipped ones included; `on_skip` runs ahead of the records
  // this loop has taken, so skips wait in `skipped` and are reported in file order.
  let header: string[] = [];
  let row = 0;
  const skipped: { row: number; error: AlignkitError }[] = [];
  const parser = parse({
    bom: true,
    columns: (names: string[]) => {
      header = names;
      return selectColumns(names, options.columns, path);
    },
    relax_quotes: true, // a quote inside an unquoted field is a character, as in pandas
    skip_empty_lines: true,
    skip_records_with_error: options.skipInvalidRows ?? false,
    on_record: (values: Record<string, string>): NumberedRecord => ({ values, row: row++ }),
    on_skip: (error) => {
      skipped.push({ row, error: recordError(path, row, header, error) });
      row++;
      return undefined;
    },
  });
  // pipeline closes the file when the parser ends, fails, or is left early by a `break`.
  pipeline(createReadStream(path), parser, () => undefined);
  try {
    for await (const record of parser as AsyncIterable<NumberedRecord>) {
      while (skipped[0] && skipped[0].row < record.row) rejectRow(skipped.shift()!.error, options);
      yield { values: record.values, file: path, row: record.row };
    }
  } catch (error) {
    throw error instanceof CsvError ? recordError(path, row, header, error) : fileError(path, 'unreadable CSV', error);
  }
  for (const { error } of skipped) rejectRow(error, options);
}

/** The header as csv-parse columns: projected-out columns become `false` (not kept in records). */
function selectColumns(header: string[], wanted: string[] | undefined, path: string): (string | false)[] {
  const duplicate = header.find((name, i) => header.indexOf(name) !== i);
  if (duplicate !== undefined) throw fileError(path, `header: column '${duplicate}' appears more than once`);
  if (!wanted) return header;
  checkColumns(wanted, header, path);
  return header.map((name) => wanted.includes(name) && name);
}

function recordError(path: string, row: number, header: string[], error: CsvError | undefined): AlignkitError {
  const line = typeof error?.lines === 'number' ? error.lines : undefined;
  const fields = Array.isArray(error?.record) ? error.record.length : undefined;
  const what =
    error?.code === 'CSV_RECORD_INCONSISTENT_COLUMNS' && fields !== undefined
      ? `expected ${header.length} fields (${header.join(', ')}), got ${fields}`
      : `invalid CSV (${error?.message ?? 'unreadable record'})`;
  return rowError(path, row, line, what);
}

// JSON Lines and JSON files, told apart as `datasets`' json loader does: a file whose first non-space
// character is `[` is one JSON array (read whole, as `datasets` also does); anything else — whatever the
// extension, .json included — is JSON Lines, streamed one line at a time.
import { open, readFile } from 'node:fs/promises';
import { jsonErrorPlace } from '../../io/json-error.js';
import { pickColumns } from './columns.js';
import { fileError, rejectRow, rowError } from './read-errors.js';
import { readLines } from './lines.js';
import type { DatasetFormat, ReadOptions, SourceRow } from './types.js';

/** The rows of a .jsonl/.json file: one object per line, or the elements of a top-level array. */
export async function* readJson(path: string, format: DatasetFormat, options: ReadOptions): AsyncGenerator<SourceRow> {
  if (await startsWithArray(path)) yield* readJsonArray(path, options);
  else yield* readJsonLines(path, format, options);
}

// fatal: a line that is not UTF-8 is an error (naming its row), not a line full of U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

async function* readJsonLines(path: string, format: DatasetFormat, options: ReadOptions): AsyncGenerator<SourceRow> {
  // As pyarrow's JSON reader (behind `datasets`): blank lines are not rows.
  let line = 0;
  let row = 0;
  for await (const bytes of readLines(path)) {
    line++;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      rejectRow(rowError(path, row++, line, 'invalid UTF-8'), options);
      continue;
    }
    if (text.trim() === '') continue;
    const values = parseLine(text, path, row, line, format, options);
    if (values) yield { values: pickColumns(values, options.columns), file: path, row };
    row++;
  }
}

function parseLine(
  text: string,
  path: string,
  row: number,
  line: number,
  format: DatasetFormat,
  options: ReadOptions,
): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // A pretty-printed single object in a .json file fails here on its first line: say what .json may hold.
    const hint = format === 'json' ? '; a .json file holds one object per line or a top-level array of objects' : '';
    // By position only: the parser's message would quote the line, and a linked file's content must not be printed.
    const place = jsonErrorPlace(error, text);
    rejectRow(rowError(path, row, line, `invalid JSON (${place})${hint}`), options);
    return undefined;
  }
  if (isObject(value)) return value;
  rejectRow(rowError(path, row, line, `expected an object, got ${describe(value)}`), options);
  return undefined;
}

async function* readJsonArray(path: string, options: ReadOptions): AsyncGenerator<SourceRow> {
  let items: unknown[];
  const text = utf8.decode(await readFile(path));
  try {
    items = JSON.parse(text) as unknown[];
  } catch (error) {
    const place = jsonErrorPlace(error, text);
    throw fileError(path, `invalid JSON (${place})`);
  }
  // As `datasets`: when the first element is not an object (a list of strings, say), each element
  // becomes a row {"text": element}; otherwise every element must be an object.
  const asText = items.length > 0 && !isObject(items[0]);
  for (const [row, item] of items.entries()) {
    const values = asText ? { text: item } : item;
    if (isObject(values)) yield { values: pickColumns(values, options.columns), file: path, row };
    else rejectRow(rowError(path, row, undefined, `expected an object, got ${describe(item)}`), options);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const LEFT_BRACKET = 0x5b;

/** Whether the first character after a BOM and white space is `[` (reads only the start of the file). */
async function startsWithArray(path: string): Promise<boolean> {
  const handle = await open(path);
  try {
    const chunk = Buffer.alloc(4096);
    for (let position = 0; ;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return false;
      const start = position === 0 && chunk.subarray(0, 3).equals(BOM) ? BOM.length : 0;
      for (let i = start; i < bytesRead; i++) {
        if (!JSON_SPACE.has(chunk[i]!)) return chunk[i] === LEFT_BRACKET;
      }
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

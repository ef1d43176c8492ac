// The report's tables: the end-of-training summary, eval_results.json and the run's config, as rows of text.
import { readFile } from 'node:fs/promises';
import { AlignkitError } from '../errors.js';

/** head[0] names the first column, which holds each row's name. */
export interface Table {
  head: string[];
  rows: string[][];
}

export type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Integers as they are, other numbers to 6 significant digits; text as is; anything nested as compact JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'string') return value;
  if (value === null) return '—';
  return JSON.stringify(value);
}

/** A JSON object file, or undefined when there is none; anything else is an error naming the file. */
export async function readJsonObject(path: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AlignkitError('ERR_NOT_FOUND', `${path}: cannot be read (${(err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AlignkitError('ERR_INVALID_DATA', `${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(value)) {
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${path}: expected a JSON object of named values, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Named results, flat ({"win_rate": 0.7}) or grouped one level deep ({"before": {...}, "after": {...}}, or per
 * model): one row per name, a `value` column for the flat ones and a column per group.
 */
export function resultsTable(results: JsonObject): Table {
  const flat = Object.entries(results).filter(([, v]) => !isObject(v));
  const groups = Object.entries(results).filter((e): e is [string, JsonObject] => isObject(e[1]));
  const names = [...new Set([...flat.map(([name]) => name), ...groups.flatMap(([, g]) => Object.keys(g))])];
  const cell = (values: JsonObject, name: string) => (name in values ? formatValue(values[name]) : '');
  const flatValues = Object.fromEntries(flat);
  return {
    head: ['metric', ...(flat.length ? ['value'] : []), ...groups.map(([group]) => group)],
    rows: names.map((name) => [
      name,
      ...(flat.length ? [cell(flatValues, name)] : []),
      ...groups.map(([, g]) => cell(g, name)),
    ]),
  };
}

export function keyValueTable(head: [string, string], values: JsonObject): Table {
  return { head, rows: Object.entries(values).map(([key, value]) => [key, formatValue(value)]) };
}

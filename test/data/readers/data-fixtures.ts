// The committed dataset fixtures (scripts/fixtures/make_datasets.py) and a helper to read them whole.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRows, type ReadOptions, type SourceRow } from '../../../src/data/readers/index.js';
import { fixturesDir } from '../../helpers/fixtures.js';

export const dataFile = (name: string) => join(fixturesDir, 'data', name);

/** The rows as `datasets` itself read them back from every fixture (`list(ds)` per dataset). */
export const expected = JSON.parse(readFileSync(dataFile('expected.json'), 'utf8')) as Record<
  'standard' | 'conversational' | 'standard_csv',
  Record<string, unknown>[]
>;

export async function readAll(path: string, options?: ReadOptions): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const row of readRows(path, options)) rows.push(row);
  return rows;
}

/** What readRows should yield for `values` read from `file`, numbered from 0. */
export function numbered(values: Record<string, unknown>[], file: string): SourceRow[] {
  return values.map((row, i) => ({ values: row, file, row: i }));
}

// Unreadable rows: an error naming file, row and what was expected; with skipInvalidRows, a reported skip.
import { describe, expect, it, vi } from 'vitest';
import type { AlignkitError } from '../../../src/errors.js';
import { readRows } from '../../../src/data/readers/index.js';
import { dataFile, readAll } from './data-fixtures.js';

// bad.jsonl: row 1 (line 2) is not JSON, line 3 is blank, row 2 (line 4) is an array.
const badJsonl = dataFile('bad.jsonl');

describe('bad rows throw', () => {
  it('an invalid JSON line names file, row and line', async () => {
    await expect(readAll(badJsonl)).rejects.toMatchObject({
      name: 'AlignkitError',
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(new RegExp(`^${escape(badJsonl)}: row 1 \\(line 2\\): invalid JSON \\(.+\\)$`)),
    });
  });

  it('rows before the bad line come out first: JSON Lines are read line by line', async () => {
    const seen: number[] = [];
    await expect(async () => {
      for await (const { row } of readRows(badJsonl)) seen.push(row);
    }).rejects.toThrow(/row 1 \(line 2\)/);
    expect(seen).toEqual([0]);
  });

  it('a CSV record with a field too many names the header', async () => {
    const path = dataFile('bad.csv');
    await expect(readAll(path)).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: `${path}: row 1 (line 3): expected 3 fields (prompt, chosen, rejected), got 4`,
    });
  });

  it.each(['unsafe-int.parquet', 'unsafe-int.arrow'])('%s: an int64 beyond 2^53 names row and field', async (name) => {
    const path = dataFile(name);
    await expect(readAll(path)).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(
        new RegExp(`^${escape(path)}: row 1: field 'id': expected an integer within .*got 9007199254740992$`),
      ),
    });
  });
});

describe('skipInvalidRows', () => {
  it('yields the good rows of bad.jsonl and reports each bad one', async () => {
    const skipped: AlignkitError[] = [];
    const rows = await readAll(badJsonl, { skipInvalidRows: true, onSkip: (error) => skipped.push(error) });
    expect(rows).toEqual([
      { values: { prompt: 'a', chosen: 'b', rejected: 'c' }, file: badJsonl, row: 0 },
      { values: { prompt: 'g', chosen: 'h', rejected: 'i' }, file: badJsonl, row: 3 },
    ]);
    expect(skipped.map((error) => [error.code, error.message.slice(badJsonl.length)])).toEqual([
      ['ERR_INVALID_DATA', expect.stringMatching(/^: row 1 \(line 2\): invalid JSON/)],
      ['ERR_INVALID_DATA', ': row 2 (line 4): expected an object, got an array'],
    ]);
  });

  it('CSV: skips the malformed record, keeps numbering the ones after it', async () => {
    const path = dataFile('bad.csv');
    const skipped: string[] = [];
    const rows = await readAll(path, { skipInvalidRows: true, onSkip: (error) => skipped.push(error.message) });
    expect(rows.map(({ values, row }) => [row, values.prompt])).toEqual([
      [0, 'a'],
      [2, 'h'],
    ]);
    expect(skipped).toEqual([`${path}: row 1 (line 3): expected 3 fields (prompt, chosen, rejected), got 4`]);
  });

  it.each(['unsafe-int.parquet', 'unsafe-int.arrow'])('%s: skips the rows whose int64 does not fit', async (name) => {
    const skipped: string[] = [];
    const rows = await readAll(dataFile(name), {
      skipInvalidRows: true,
      onSkip: (error) => skipped.push(error.message),
    });
    expect(rows.map(({ values, row }) => [row, values])).toEqual([[0, { id: 1, ids: [1] }]]);
    expect(skipped).toEqual([
      expect.stringMatching(/: row 1: field 'id': .*got 9007199254740992$/),
      expect.stringMatching(/: row 2: field 'ids\[1\]': .*got -9223372036854775808$/),
    ]);
  });

  it('without onSkip, each skip is a process warning (never silent)', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await readAll(badJsonl, { skipInvalidRows: true });
      expect(warn.mock.calls.map(([message]) => message)).toEqual([
        expect.stringMatching(/^skipped .*bad\.jsonl: row 1 \(line 2\): invalid JSON/),
        expect.stringMatching(/^skipped .*bad\.jsonl: row 2 \(line 4\): expected an object/),
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

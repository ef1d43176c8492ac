// Every format yields exactly the rows `datasets` reads from the same fixture (expected.json).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRows } from '../../../src/data/readers/index.js';
import { dataFile, expected, numbered, readAll } from './data-fixtures.js';

describe('readRows yields the rows datasets reads', () => {
  it.each([
    ['standard.jsonl', 'standard'],
    ['conversational.jsonl', 'conversational'],
    ['standard.json', 'standard'], // a top-level array
    ['conversational.json', 'conversational'], // JSON Lines under a .json name
    ['standard.parquet', 'standard'], // snappy, one row group
    ['conversational.parquet', 'conversational'], // snappy, two row groups
    ['conversational-zstd.parquet', 'conversational'],
    ['standard-gzip.parquet', 'standard'],
    ['conversational.arrow', 'conversational'], // IPC file format
    ['conversational-stream.arrow', 'conversational'], // IPC stream format
    ['standard.feather', 'standard'],
    ['standard.csv', 'standard_csv'], // strings as written
  ] as const)('%s', async (name, dataset) => {
    const path = dataFile(name);
    expect(await readAll(path)).toEqual(numbered(expected[dataset], path));
  });

  it('a save_to_disk folder: its shards in state.json order, numbered as one dataset', async () => {
    const standard = dataFile('standard-arrow'); // two shards
    expect(await readAll(standard)).toEqual(numbered(expected.standard, standard));
    const conversational = dataFile('conversational-arrow');
    expect(await readAll(conversational)).toEqual(numbered(expected.conversational, conversational));
  });

  it('a DatasetDict folder: split train by default, another with split', async () => {
    const dir = dataFile('dict');
    expect(await readAll(dir)).toEqual(numbered(expected.conversational, join(dir, 'train')));
    expect(await readAll(dir, { split: 'test' })).toEqual(numbered(expected.standard, join(dir, 'test')));
  });

  it('a DatasetDict without the split is ERR_NOT_FOUND listing the splits', async () => {
    await expect(readAll(dataFile('dict'), { split: 'validation' })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringMatching(/dict: no split 'validation' .*\(splits: train, test\)/),
    });
  });

  it('a folder of data files: in name order, each file numbering its own rows', async () => {
    const [first, second] = [dataFile('standard-parts/part-00000.jsonl'), dataFile('standard-parts/part-00001.jsonl')];
    expect(await readAll(dataFile('standard-parts'))).toEqual([
      ...numbered(expected.standard.slice(0, 2), first),
      ...numbered(expected.standard.slice(2), second),
    ]);
  });

  it('values are plain JS: arrays, objects, numbers (int64 included), no Arrow proxies or bigints', async () => {
    for (const name of ['conversational.arrow', 'conversational.parquet']) {
      const [row] = await readAll(dataFile(name));
      const prompt = row!.values.prompt as unknown[];
      expect(Array.isArray(prompt)).toBe(true);
      expect(Object.getPrototypeOf(prompt[0])).toBe(Object.prototype);
      expect(row!.values.ids).toEqual([1, 2, 3]);
      expect(typeof (row!.values.ids as unknown[])[0]).toBe('number');
    }
  });
});

describe('columns', () => {
  it('Parquet, Arrow and CSV read only the named columns', async () => {
    const want = expected.standard.map(({ prompt, score }) => ({ prompt, score }));
    for (const name of ['standard.parquet', 'standard-arrow', 'standard.feather']) {
      const rows = await readAll(dataFile(name), { columns: ['prompt', 'score'] });
      expect(rows.map((row) => row.values)).toEqual(want);
    }
    const csv = await readAll(dataFile('standard.csv'), { columns: ['chosen'] });
    expect(csv.map((row) => row.values)).toEqual(expected.standard_csv.map(({ chosen }) => ({ chosen })));
  });

  it('JSON rows keep the named keys they have', async () => {
    const rows = await readAll(dataFile('standard.jsonl'), { columns: ['chosen', 'absent'] });
    expect(rows.map((row) => row.values)).toEqual(expected.standard.map(({ chosen }) => ({ chosen })));
  });

  it('a column missing from a schema or header is ERR_INVALID_DATA listing the columns there are', async () => {
    for (const name of ['standard.parquet', 'standard.feather', 'standard.csv']) {
      await expect(readAll(dataFile(name), { columns: ['prompt', 'absent'] })).rejects.toMatchObject({
        code: 'ERR_INVALID_DATA',
        message: expect.stringMatching(/: no column 'absent' \(it has: prompt, chosen, rejected, /),
      });
    }
  });
});

it('breaking out of the loop early stops every reader cleanly', async () => {
  for (const name of [
    'standard.jsonl',
    'standard.csv',
    'conversational.parquet',
    'conversational.arrow',
    'standard-arrow',
  ]) {
    for await (const row of readRows(dataFile(name))) {
      expect(row.row).toBe(0);
      break;
    }
  }
});

// Which reader a path gets, and the errors for paths and files no reader can take.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../../src/data/readers/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { dataFile, expected, readAll } from './data-fixtures.js';

describe('detectFormat', () => {
  it.each([
    ['a.jsonl', 'jsonl'],
    ['a.ndjson', 'jsonl'],
    ['a.json', 'json'],
    ['A.PARQUET', 'parquet'],
    ['a.csv', 'csv'],
    ['a.arrow', 'arrow'],
    ['a.arrows', 'arrow'],
    ['a.ipc', 'arrow'],
    ['a.feather', 'arrow'],
  ])('%s is %s', (name, format) => {
    expect(detectFormat(join('/nowhere', name))).toBe(format);
  });

  it('a folder: arrow for save_to_disk layouts, else the format of its data files', () => {
    expect(detectFormat(dataFile('standard-arrow'))).toBe('arrow');
    expect(detectFormat(dataFile('dict'))).toBe('arrow');
    expect(detectFormat(dataFile('standard-parts'))).toBe('jsonl');
  });

  it('an unknown extension is ERR_INVALID_DATA listing the supported ones', () => {
    const path = join(tempDir('readers'), 'data.txt');
    writeFileSync(path, 'hello\n');
    expect(() => detectFormat(path)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_DATA',
        message: expect.stringMatching(
          /data\.txt: unknown data file extension '\.txt'; supported: \.jsonl, \.ndjson, \.json, \.parquet/,
        ),
      }),
    );
  });

  it('a missing path without an extension is ERR_NOT_FOUND', () => {
    expect(() => detectFormat('/nowhere/data')).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }));
  });
});

describe('paths readRows cannot read', () => {
  it('a missing file is ERR_NOT_FOUND naming it', async () => {
    await expect(readAll('/nowhere/train.jsonl')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: '/nowhere/train.jsonl: no such file or folder',
    });
  });

  it('an unknown extension reads with an explicit format', async () => {
    const path = join(tempDir('readers'), 'data.txt');
    copyFileSync(dataFile('standard.jsonl'), path);
    await expect(readAll(path)).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(/unknown data file extension/),
    });
    expect((await readAll(path, { format: 'jsonl' })).map((row) => row.values)).toEqual(expected.standard);
  });

  it('a folder with no data files, or data files of two formats', async () => {
    const dir = tempDir('readers');
    writeFileSync(join(dir, 'README.md'), '# notes\n');
    await expect(readAll(dir)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringMatching(/: no data files \(/),
    });
    copyFileSync(dataFile('standard.jsonl'), join(dir, 'a.jsonl'));
    copyFileSync(dataFile('standard.csv'), join(dir, 'b.csv'));
    await expect(readAll(dir)).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(/holds data files of several formats \(1 jsonl, 1 csv\); pass format/),
    });
    expect(await readAll(dir, { format: 'csv' })).toHaveLength(expected.standard_csv.length);
  });

  it('a save_to_disk folder missing a shard names the shard', async () => {
    const dir = tempDir('readers');
    copyFileSync(dataFile('standard-arrow/state.json'), join(dir, 'state.json'));
    await expect(readAll(dir)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringMatching(/data-00000-of-00002\.arrow: no such file \(listed in .*state\.json\)/),
    });
  });

  it.each([
    ['standard.jsonl', 'parquet', /standard\.jsonl: not a Parquet file \(/],
    ['standard.jsonl', 'arrow', /standard\.jsonl: not a readable Arrow IPC file or stream \(/],
  ] as const)('%s read as %s is ERR_INVALID_DATA naming the file', async (name, format, message) => {
    await expect(readAll(dataFile(name), { format })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(message),
    });
  });

  it('LZ4-compressed Arrow IPC (pyarrow.feather default) says how to rewrite it', async () => {
    await expect(readAll(dataFile('standard-lz4.feather'))).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(
        /standard-lz4\.feather: .*compressed Arrow IPC is not supported; rewrite it uncompressed/,
      ),
    });
  });

  it('a subfolder of a folder of data files is not read', async () => {
    const dir = tempDir('readers');
    copyFileSync(dataFile('standard.jsonl'), join(dir, 'a.jsonl'));
    mkdirSync(join(dir, 'nested.jsonl'));
    expect(await readAll(dir)).toHaveLength(expected.standard.length);
  });
});

// JSON Lines and JSON details datasets' json loader defines: BOM, CRLF, blank lines, arrays, long lines.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/fixtures.js';
import { readAll } from './data-fixtures.js';

function file(name: string, content: string | Buffer): string {
  const path = join(tempDir('readers-json'), name);
  writeFileSync(path, content);
  return path;
}

describe('JSON Lines', () => {
  it('a BOM, CRLF line ends and blank or white-space lines (which are not rows)', async () => {
    const path = file('a.jsonl', '\uFEFF{"a": 1}\r\n\r\n   \r\n{"a": 2}');
    expect(await readAll(path)).toEqual([
      { values: { a: 1 }, file: path, row: 0 },
      { values: { a: 2 }, file: path, row: 1 },
    ]);
  });

  it('lines longer than a read chunk, with multi-byte characters across chunk ends', async () => {
    const long = `${'é'.repeat(40_000)}🙂${'x'.repeat(50_001)}👩‍💻`;
    const path = file('a.jsonl', `${JSON.stringify({ text: long })}\n${JSON.stringify({ text: 'short' })}\n`);
    expect((await readAll(path)).map((row) => row.values.text)).toEqual([long, 'short']);
  });

  it('a line that is not UTF-8 is an invalid row', async () => {
    const path = file(
      'a.jsonl',
      Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n{"a": "ok"}\n')]),
    );
    await expect(readAll(path)).rejects.toThrow(`${path}: row 0 (line 1): invalid UTF-8`);
    const skipped: string[] = [];
    const rows = await readAll(path, { skipInvalidRows: true, onSkip: (error) => skipped.push(error.message) });
    expect(rows).toEqual([{ values: { a: 'ok' }, file: path, row: 1 }]);
    expect(skipped).toHaveLength(1);
  });

  it('an empty file has no rows', async () => {
    expect(await readAll(file('a.jsonl', ''))).toEqual([]);
  });

  it('a pretty-printed object in a .json file fails on line 1, saying what .json may hold', async () => {
    const path = file('a.json', '{\n  "a": 1\n}\n');
    await expect(readAll(path)).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(
        /: row 0 \(line 1\): invalid JSON \(.*\); a \.json file holds one object per line or a top-level array of objects$/,
      ),
    });
  });
});

describe('JSON arrays (a file starting with `[`, whatever its extension)', () => {
  it('objects are rows, after a BOM and leading white space (which datasets itself refuses)', async () => {
    const path = file('a.jsonl', '\uFEFF\n  [{"a": 1},\n {"a": [2, {"b": null}]}]\n');
    expect(await readAll(path)).toEqual([
      { values: { a: 1 }, file: path, row: 0 },
      { values: { a: [2, { b: null }] }, file: path, row: 1 },
    ]);
  });

  it('a list of strings (or anything but objects) becomes {"text": ...} rows, as in datasets', async () => {
    const path = file('a.json', '["one", "two"]');
    expect((await readAll(path)).map((row) => row.values)).toEqual([{ text: 'one' }, { text: 'two' }]);
    expect((await readAll(file('b.json', '[1, [2]]'))).map((row) => row.values)).toEqual([{ text: 1 }, { text: [2] }]);
  });

  it('an element that is not an object is an invalid row', async () => {
    const path = file('a.json', '[{"a": 1}, 2, {"a": 3}]');
    await expect(readAll(path)).rejects.toThrow(`${path}: row 1: expected an object, got a number`);
    const skipped: string[] = [];
    const rows = await readAll(path, { skipInvalidRows: true, onSkip: (error) => skipped.push(error.message) });
    expect(rows.map(({ values, row }) => [row, values])).toEqual([
      [0, { a: 1 }],
      [2, { a: 3 }],
    ]);
    expect(skipped).toEqual([`${path}: row 1: expected an object, got a number`]);
  });

  it('a broken array fails the whole file, even when skipping rows', async () => {
    const path = file('a.json', '[{"a": 1}, {"a": ]');
    await expect(readAll(path, { skipInvalidRows: true, onSkip: () => undefined })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(/a\.json: invalid JSON \(.+\)$/),
    });
  });
});

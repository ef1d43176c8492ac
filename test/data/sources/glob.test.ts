// The glob and extension tables behind datasets' data-file resolution, against datasets itself
// (scripts/fixtures/make_dataset_mixture.py: glob.json from resolve_pattern, modules.json from its tables).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ALLOWED_EXTENSIONS, EXTENSION_TO_MODULE, inferModule } from '../../../src/data/sources/file-modules.js';
import { listFiles, matchFiles } from '../../../src/data/sources/glob.js';
import { fixturesDir } from '../../helpers/fixtures.js';

const dir = join(fixturesDir, 'datasets');
const glob = JSON.parse(readFileSync(join(dir, 'glob.json'), 'utf8')) as {
  files: string[];
  patterns: Record<string, string[] | 'ValueError'>;
  allowed: Record<string, string[]>;
};
const modules = JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')) as {
  extension_to_module: Record<string, string>;
  allowed_extensions: string[];
};
const tree = join(dir, 'glob-tree');

test('the fixture folder lists as generated (sorted by code point)', () => {
  expect(listFiles(tree)).toEqual([...glob.files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

test.each(Object.entries(glob.patterns))('resolve_pattern(%j)', (pattern, expected) => {
  if (expected === 'ValueError')
    expect(() => matchFiles(listFiles(tree), pattern)).toThrow(/'\*\*' can only be an entire path component/);
  else expect(matchFiles(listFiles(tree), pattern)).toEqual(expected);
});

test.each(Object.entries(glob.allowed))('resolve_pattern(%j) with datasets allowed extensions', (pattern, expected) => {
  expect(matchFiles(listFiles(tree), pattern, ALLOWED_EXTENSIONS)).toEqual(expected);
});

test("datasets' extension → loader table and allowed extensions", () => {
  expect(Object.fromEntries(EXTENSION_TO_MODULE)).toEqual(modules.extension_to_module);
  expect([...ALLOWED_EXTENSIONS].sort()).toEqual(modules.allowed_extensions);
});

test('the loader of a file list: most common extension, .parquet first on a tie, metadata files last', () => {
  expect(inferModule(['a.jsonl', 'b.jsonl', 'c.parquet'])).toBe('json');
  expect(inferModule(['a.jsonl', 'c.parquet'])).toBe('parquet');
  expect(inferModule(['a.csv', 'b.json'])).toBe('json');
  expect(inferModule(['train.jsonl.gz'])).toBe('json');
  expect(inferModule(['metadata.jsonl', 'metadata.parquet', 'x.png'])).toBe('imagefolder');
  expect(inferModule(['notes.md', 'LICENSE'])).toBeNull();
});

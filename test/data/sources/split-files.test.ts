// load_dataset(repo, config, split=...) on dataset repos in the hub's layouts: the data files datasets resolves
// (README configs, sharded split files, split names in file or folder names, everything-is-train) and the rows it
// yields, against datasets itself (scripts/fixtures/make_dataset_mixture.py → loads.json); also through a hub
// cache, offline, by id.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readRows } from '../../../src/data/readers/index.js';
import { locateSplit } from '../../../src/data/sources/locate-split.js';
import type { SplitFiles } from '../../../src/data/sources/split-files.js';
import { fixturesDir } from '../../helpers/fixtures.js';

const dir = join(fixturesDir, 'datasets');
const repos = join(dir, 'repos');
const { loads, refused } = JSON.parse(readFileSync(join(dir, 'loads.json'), 'utf8')) as {
  loads: { repo: string; config: string | null; split: string; files: string[]; rows: Record<string, unknown>[] }[];
  refused: { repo: string; config: string | null; split: string }[];
};
const log = () => {};

async function rowsOf(split: SplitFiles): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const { path, format } of split.files)
    for await (const { values } of readRows(path, { format })) rows.push(values);
  return rows;
}

describe.each(loads)('load_dataset($repo, $config, split=$split)', ({ repo, config, split, files, rows }) => {
  test('the same data files in the same order, and the same rows', async () => {
    const found = await locateSplit({ path: join(repos, repo), name: config, split }, { log });
    expect(found.files.map((f) => relative(join(repos, repo), f.path))).toEqual(files);
    expect(await rowsOf(found)).toEqual(rows);
  });
});

test.each(refused)(
  'load_dataset($repo, $config, split=$split) is refused, as datasets refuses it',
  async ({ repo, config, split }) => {
    await expect(locateSplit({ path: join(repos, repo), name: config, split }, { log })).rejects.toThrow(
      /config|split/,
    );
  },
);

test('a relative path is relative to cwd; a packaged loader reads data_files', async () => {
  const found = await locateSplit({ path: 'sharded', split: 'test' }, { log, cwd: repos });
  expect(found.files.map((f) => f.path)).toEqual([join(repos, 'sharded/data/test-00000-of-00001.jsonl')]);
  const packaged = await locateSplit(
    { path: 'json', split: 'train', dataFiles: ['sharded/data/train-*.jsonl'] },
    { log, cwd: repos },
  );
  expect(packaged.files.map((f) => relative(repos, f.path))).toEqual([
    'sharded/data/train-00000-of-00002.jsonl',
    'sharded/data/train-00001-of-00002.jsonl',
  ]);
  await expect(
    locateSplit({ path: 'json', split: 'train', dataFiles: 'nowhere.jsonl' }, { log, cwd: repos }),
  ).rejects.toThrow(/not found/);
});

test('data files alignkit cannot read are refused by name', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'alignkit-repo-'));
  writeFileSync(join(repo, 'train.jsonl.gz'), '');
  await expect(locateSplit({ path: repo, split: 'train' }, { log })).rejects.toThrow(/train\.jsonl\.gz: compressed/);
  writeFileSync(join(repo, 'README.md'), '---\nconfigs:\n- config_name: a\n  data_files: "*.tsv"\n---\n');
  writeFileSync(join(repo, 'x.tsv'), 'a\tb\n');
  await expect(locateSplit({ path: repo, split: 'train' }, { log })).rejects.toThrow(/tab-separated/);
});

describe('a hub dataset id, from the Hugging Face cache (offline)', () => {
  const saved = { ...process.env };
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'alignkit-hub-'));
    // The cache layout huggingface_hub writes: refs/main → commit, snapshots/<commit>/<files>.
    const commit = 'c0ffee'.padEnd(40, '0');
    const storage = join(cache, 'datasets--stand-in--configs');
    mkdirSync(join(storage, 'refs'), { recursive: true });
    writeFileSync(join(storage, 'refs', 'main'), commit);
    cpSync(join(repos, 'configs'), join(storage, 'snapshots', commit), { recursive: true });
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = '1';
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  test('resolves the config and split like the local folder', async () => {
    const expected = loads.find((l) => l.repo === 'configs' && l.config === 'extra')!;
    const found = await locateSplit({ path: 'stand-in/configs', name: 'extra', split: 'train' }, { log });
    expect(found.files.map((f) => f.path.split('/snapshots/')[1]!.split('/').slice(1).join('/'))).toEqual(
      expected.files,
    );
    expect(await rowsOf(found)).toEqual(expected.rows);
  });

  test('an id missing from the cache says so', async () => {
    await expect(locateSplit({ path: 'stand-in/absent', split: 'train' }, { log })).rejects.toThrow(
      /not in the Hugging Face cache/,
    );
  });
});

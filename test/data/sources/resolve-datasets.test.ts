// The config step that turns TRL's / the handbook's dataset keys into the files the trainers read: dataset_name
// with its splits, hub ids and dataset repo folders as train_dataset / eval_dataset, and the refusals.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { resolveDatasets } from '../../../src/data/sources/resolve-datasets.js';
import { fixturesDir } from '../../helpers/fixtures.js';
import { datasetConfig } from './dataset-config.js';

const repos = join(fixturesDir, 'datasets', 'repos');
const { loads } = JSON.parse(readFileSync(join(fixturesDir, 'datasets', 'loads.json'), 'utf8')) as {
  loads: { repo: string; config: string | null; split: string; rows: Record<string, unknown>[] }[];
};
const rowsOf = (repo: string, split: string, config: string | null = null) =>
  loads.find((l) => l.repo === repo && l.split === split && l.config === config)!.rows;
const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const quiet = () => {};
const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

test('dataset_name: the train split, and the test split when evaluating (TRL: dataset[dataset_test_split])', async () => {
  const config = await resolveDatasets(
    datasetConfig({ dataset_name: join(repos, 'sharded'), eval_strategy: 'steps' }),
    quiet,
  );
  expect(readJsonl(config.train_dataset!)).toEqual(rowsOf('sharded', 'train')); // two files: written out
  expect(config.eval_dataset).toBe(join(repos, 'sharded/data/test-00000-of-00001.jsonl')); // one file: read in place
  const noEval = await resolveDatasets(
    datasetConfig({ dataset_name: join(repos, 'sharded'), dataset_train_split: 'extra_set' }),
    quiet,
  );
  expect(noEval.train_dataset).toBe(join(repos, 'sharded/data/extra_set-00000-of-00001.jsonl'));
  expect(noEval.eval_dataset).toBeNull();
});

test('dataset_config picks the config; a repo folder as train_dataset / eval_dataset reads its splits', async () => {
  const extra = await resolveDatasets(
    datasetConfig({ dataset_name: join(repos, 'configs'), dataset_config: 'extra' }),
    quiet,
  );
  expect(readJsonl(extra.train_dataset!)).toEqual(rowsOf('configs', 'train', 'extra'));
  const named = await resolveDatasets(
    datasetConfig({
      train_dataset: join(repos, 'named'),
      eval_dataset: join(repos, 'named'),
      dataset_test_split: 'validation',
      eval_strategy: 'epoch',
    }),
    quiet,
  );
  expect(named.train_dataset).toBe(join(repos, 'named/train.jsonl'));
  expect(named.eval_dataset).toBe(join(repos, 'named/dev.jsonl'));
});

test('a hub id as train_dataset resolves from the cache', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'alignkit-hub-'));
  const commit = 'a'.repeat(40);
  const storage = join(cache, 'datasets--stand-in--sharded');
  mkdirSync(join(storage, 'refs'), { recursive: true });
  writeFileSync(join(storage, 'refs', 'main'), commit);
  cpSync(join(repos, 'sharded'), join(storage, 'snapshots', commit), { recursive: true });
  Object.assign(process.env, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  const config = await resolveDatasets(
    datasetConfig({ train_dataset: 'stand-in/sharded', dataset_train_split: 'test' }),
    quiet,
  );
  expect(config.train_dataset).toBe(join(storage, 'snapshots', commit, 'data/test-00000-of-00001.jsonl'));
});

test('local data files and plain folders are left as they are', async () => {
  const data = join(fixturesDir, 'data');
  const config = datasetConfig({
    train_dataset: join(data, 'standard.jsonl'),
    eval_dataset: join(data, 'standard-parts'),
  });
  expect(await resolveDatasets(config, quiet)).toEqual(config);
  const missing = datasetConfig({ train_dataset: 'no/such.jsonl' });
  expect(await resolveDatasets(missing, quiet)).toEqual(missing);
});

const mixture = (datasets: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({ datasets, ...extra });
const entry = { id: join(repos, 'flat') };

test.each([
  [
    'train_dataset beside a mixture',
    { train_dataset: 'x.jsonl', dataset_mixture: mixture([entry]) },
    /train_dataset and dataset_mixture both/,
  ],
  ['both spellings', { dataset_mixture: mixture([entry]), datasets: [{ path: 'x' }] }, /both describe a mixture/],
  [
    "TRL's path in a handbook entry",
    { dataset_mixture: mixture([{ path: 'x' }]) },
    /'path' is the TRL spelling.*here it is 'id'/,
  ],
  [
    "the handbook's weight in a TRL entry",
    { datasets: [{ path: 'x', weight: 0.5 }] },
    /'weight' is the alignment-handbook spelling.*here it is 'fraction'/,
  ],
  [
    'fraction on some entries only',
    { datasets: [{ path: 'x', fraction: 0.5 }, { path: 'y' }] },
    /either all datasets in the mixture or none/,
  ],
  [
    'differing column lists (handbook)',
    {
      dataset_mixture: mixture([
        { ...entry, columns: ['a'] },
        { ...entry, columns: ['b'] },
      ]),
    },
    /column names must be the same/,
  ],
  [
    'top-level test_split_size with dataset_mixture',
    { dataset_mixture: mixture([entry]), test_split_size: 0.1 },
    /dataset_mixture.test_split_size/,
  ],
  [
    'a test size of 1.5',
    { dataset_mixture: mixture([entry], { test_split_size: 1.5 }) },
    /fraction in \(0, 1\) or a whole number/,
  ],
  [
    'evaluating a mixture without a test split',
    { dataset_mixture: mixture([entry]), eval_strategy: 'steps' },
    /only with test_split_size/,
  ],
  [
    'a train split the mixture lacks',
    { dataset_mixture: mixture([entry]), dataset_train_split: 'train_prefs' },
    /not a split of the mixture/,
  ],
  ['a weight above 1', { dataset_mixture: mixture([{ ...entry, weight: 2 }]) }, /selects 10 rows of a dataset of 5/],
  [
    'a test split as large as the mixture',
    { dataset_mixture: mixture([entry], { test_split_size: 5 }), eval_strategy: 'steps' },
    /smaller than the number of samples 5/,
  ],
  [
    'an unknown config',
    { dataset_name: join(repos, 'configs'), dataset_config: 'nope' },
    /config 'nope' not found; the configs are default, extra/,
  ],
  [
    'a sliced split',
    { dataset_name: join(repos, 'sharded'), dataset_train_split: 'train[:10%]' },
    /split slicing and joining .* is not supported/,
  ],
])('refused: %s', async (_, overrides, message) => {
  await expect(resolveDatasets(datasetConfig(overrides as never), quiet)).rejects.toThrow(message);
});

test("TRL's unseeded test split is drawn with the training seed, and says so", async () => {
  const notes: string[] = [];
  await resolveDatasets(
    datasetConfig({ datasets: [{ path: join(repos, 'flat') }], test_split_size: 2, eval_strategy: 'steps', seed: 7 }),
    (m) => notes.push(m),
  );
  expect(notes.join('\n')).toMatch(/without a seed.*seed 7/);
});

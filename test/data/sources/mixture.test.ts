// Dataset mixtures, both spellings, end to end (config → files the trainers read): the train and test rows, in
// order, that the alignment-handbook's get_dataset and TRL 1.13's get_dataset give on the same repos
// (scripts/fixtures/make_dataset_mixture.py → mixtures.json; TRL's unseeded split drawn there with seed 42).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { resolveDatasets, type DatasetKeys } from '../../../src/data/sources/resolve-datasets.js';
import { datasetConfig } from './dataset-config.js';
import { fixturesDir } from '../../helpers/fixtures.js';

const dir = join(fixturesDir, 'datasets');
const repos = join(dir, 'repos');

interface MixtureCase {
  name: string;
  style: 'handbook' | 'trl';
  dataset_mixture?: { datasets: Record<string, unknown>[]; seed?: number; test_split_size?: number };
  datasets?: Record<string, unknown>[];
  test_split_size?: number | null;
  seed?: number;
  train: Record<string, unknown>[];
  test?: Record<string, unknown>[];
}
const mixtures = JSON.parse(readFileSync(join(dir, 'mixtures.json'), 'utf8')) as MixtureCase[];

const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The fixture's mixture with its repo ids (folder names) as absolute paths. */
function configOf(c: MixtureCase, evaluate: boolean): DatasetKeys {
  const absolute = (entry: Record<string, unknown>, key: 'id' | 'path') => ({
    ...entry,
    [key]: join(repos, entry[key] as string),
  });
  const eval_strategy = evaluate ? 'steps' : 'no';
  return c.style === 'handbook'
    ? datasetConfig({
        eval_strategy,
        dataset_mixture: { ...c.dataset_mixture!, datasets: c.dataset_mixture!.datasets.map((d) => absolute(d, 'id')) },
      })
    : datasetConfig({
        eval_strategy,
        datasets: c.datasets!.map((d) => absolute(d, 'path')),
        test_split_size: c.test_split_size ?? null,
        seed: c.seed!,
      });
}

describe.each(mixtures)('$name', (c) => {
  test('train and test rows in the order datasets gives them, every column in its order', async () => {
    const notes: string[] = [];
    const config = await resolveDatasets(configOf(c, c.test !== undefined), (m) => notes.push(m));
    const train = readJsonl(config.train_dataset!);
    expect(train).toEqual(c.train);
    expect(train.map((row) => Object.keys(row))).toEqual(c.train.map((row) => Object.keys(row)));
    if (c.test) expect(readJsonl(config.eval_dataset!)).toEqual(c.test);
    else expect(config.eval_dataset).toBeNull();
  });
});

test('a second run reuses the written rows; eval_strategy no writes no test split', async () => {
  const c = mixtures.find((m) => m.name === 'handbook-weights-fraction-split')!;
  const config = configOf(c, false);
  const first = await resolveDatasets(config, () => {});
  expect(first.eval_dataset).toBeNull();
  expect(readJsonl(first.train_dataset!)).toEqual(c.train);
  const notes: string[] = [];
  const second = await resolveDatasets(config, (m) => notes.push(m));
  expect(second.train_dataset).toBe(first.train_dataset);
  expect(notes.join('\n')).toMatch(/reusing/);
  expect(readdirSync(join(config.output_dir!, 'datasets')).filter((f) => f.endsWith('.jsonl'))).toHaveLength(1);
});

test('chat_template_kwargs survives the mixture as a mapping', async () => {
  const c = mixtures.find((m) => m.name === 'handbook-weights-fraction-split')!;
  const config = await resolveDatasets(configOf(c, true), () => {});
  const row = readJsonl(config.train_dataset!)[0]!;
  expect(row.chat_template_kwargs).toEqual({ enable_thinking: expect.any(Boolean) });
});

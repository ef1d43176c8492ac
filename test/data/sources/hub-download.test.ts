// A hub dataset id online: the split is chosen on the hub's file listing (README configs), and only the card and
// that split's files are fetched into the cache — from the stand-in hub of test/hub (HF_ENDPOINT on 127.0.0.1),
// whose files are stand-in bytes (so no rows are read here; split-files.test.ts reads rows from a cache).
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { locateSplit } from '../../../src/data/sources/locate-split.js';
import { tempDir } from '../../helpers/fixtures.js';
import { HUB_ENV, saveHubEnv, startStandInHub, type StandInHub } from '../../hub/stand-in-hub.js';

const restoreEnv = saveHubEnv();
let hub: StandInHub;
beforeAll(async () => {
  hub = await startStandInHub();
});
afterAll(() => hub.close());
beforeEach(() => {
  for (const key of HUB_ENV) if (key !== 'HOME') delete process.env[key];
  Object.assign(process.env, { HF_HUB_CACHE: join(tempDir('hub-dataset'), 'hub'), HF_ENDPOINT: hub.url });
  hub.requests.length = 0;
});
afterEach(restoreEnv);

test('fetches the card and the chosen split, nothing else', async () => {
  const found = await locateSplit({ path: 'tiny-org/tiny-prefs', split: 'train' }, { log: () => {} });
  expect(found.files.map((f) => f.path.split('/snapshots/')[1]!.split('/').slice(1).join('/'))).toEqual([
    'data/train-00000-of-00001.parquet',
  ]);
  const fetched = new Set(hub.requests.filter((r) => r.kind === 'resolve').map((r) => r.path));
  expect([...fetched].sort()).toEqual(['README.md', 'data/train-00000-of-00001.parquet']);
  // The card declares only a train split: the test file in the repo is not a split of its default config.
  await expect(locateSplit({ path: 'tiny-org/tiny-prefs', split: 'test' }, { log: () => {} })).rejects.toThrow(
    /unknown split 'test'.*the splits are train/,
  );
});

// Resolving hub ids from the cache alone (HF_HUB_OFFLINE=1): on the cache huggingface_hub wrote
// (test/fixtures/hub/cache), every case must give what snapshot_download(local_files_only=True) and
// try_to_load_from_cache gave (expected.json); on layouts built here, what is missing or unsafe is refused with
// an error naming it.
import { cpSync, mkdirSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CACHED_NO_EXIST, tryToLoadFromCache } from '../../src/hub/cache-layout.js';
import { listRepoFiles, resolveRepo, type RepoRef } from '../../src/hub/resolve.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';
import { expected, HUB_ENV, hubFixture, saveHubEnv } from './stand-in-hub.js';

const fixtureCache = join(hubFixture, 'cache');
const restoreEnv = saveHubEnv();
const A = 'e5f47f6d1663b5ab44393befa587f3385aae3de7';
const B = '45ba8357df6aec91f38a0239f29467dea68d7ee4';

function offlineIn(cache: string): void {
  for (const key of HUB_ENV) if (key !== 'HOME') delete process.env[key];
  Object.assign(process.env, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' });
}

/** A writable copy of the fixture cache (symlinks kept as they are). */
function cacheCopy(): string {
  const dir = join(tempDir('hub-cache'), 'hub');
  cpSync(fixtureCache, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

beforeEach(() => offlineIn(fixtureCache));
afterEach(restoreEnv);

interface SnapshotCase {
  id: string;
  repo_type: 'model' | 'dataset';
  revision: string | null;
  allow_patterns: string[] | null;
  result: { path: string } | { error: string; missing?: string[] };
}

describe('resolveRepo offline on the cache huggingface_hub wrote', () => {
  it.each(expected.snapshots as SnapshotCase[])(
    'snapshot_download(%j)',
    async ({ id, repo_type, revision, allow_patterns, result }) => {
      const ref: RepoRef = { id, repoType: repo_type, revision };
      // snapshot_download without patterns wants every file: the same as ['*'] here.
      const resolving = resolveRepo(ref, { allowPatterns: allow_patterns ?? ['*'], log: () => {} });
      if ('path' in result) {
        expect(await resolving).toBe(join(fixtureCache, result.path));
      } else {
        const err = await resolving.catch((e: Error & { code?: string }) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error & { code: string }).code).toBe('ERR_NOT_FOUND');
        expect((err as Error).message).toContain(`'${id}'`);
        expect((err as Error).message).toContain('HF_HUB_OFFLINE=1 forbids the network');
        for (const file of result.missing ?? []) expect((err as Error).message).toContain(file);
      }
    },
  );

  it.each(
    expected.files as {
      id: string;
      repo_type: 'model' | 'dataset';
      revision: string | null;
      filename: string;
      result: string | null;
    }[],
  )('try_to_load_from_cache(%j)', ({ id, repo_type, revision, filename, result }) => {
    const found = tryToLoadFromCache(fixtureCache, id, repo_type, filename, revision);
    expect(found === CACHED_NO_EXIST ? 'NO_EXIST' : found).toBe(
      result === null || result === 'NO_EXIST' ? result : join(fixtureCache, result),
    );
  });

  it("by default fetches (and so requires) a model's files only: the cached safetensors model resolves, the partial one names what it lacks", async () => {
    expect(await resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model' })).toBe(
      join(fixtureCache, `models--tiny-org--tiny-llama/snapshots/${A}`),
    );
    expect(await resolveRepo({ id: 'tiny-org/per-file', repoType: 'model' })).toContain(
      'models--tiny-org--per-file/snapshots/',
    );
    const err = await resolveRepo({ id: 'tiny-org/partial', repoType: 'model' }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /model 'tiny-org\/partial' \(revision main\): the cached snapshot .*models--tiny-org--partial\/snapshots\/\w+ lacks 1 file\(s\): model\.safetensors/,
    );
    expect((err as Error).message).toContain('`hf download tiny-org/partial`');
  });

  it('names the repo, the revision and the cache folder searched', async () => {
    const err = await resolveRepo({ id: 'org/absent', repoType: 'dataset', revision: 'v2' }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `dataset 'org/absent' (revision v2) is not in the Hugging Face cache: there is no ${fixtureCache}/datasets--org--absent ` +
        `(cache folder ${fixtureCache}, from HF_HUB_CACHE). HF_HUB_OFFLINE=1 forbids the network; run once with network access, or ` +
        '`hf download org/absent --repo-type dataset --revision v2`, to fetch it',
    );
    const noRef = await resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model', revision: 'v2' }).catch(
      (e: Error) => e,
    );
    expect((noRef as Error).message).toContain("the cache knows no commit for revision 'v2'");
    expect((noRef as Error).message).toContain(
      `cached refs: main → ${A.slice(0, 7)}, refs/pr/1 → ${B.slice(0, 7)}, v1 → ${B.slice(0, 7)}, v1.0 → ${B.slice(0, 7)}`,
    );
  });

  it('TRANSFORMERS_OFFLINE=1 alone is offline too; HF_DATASETS_OFFLINE=0 lets a dataset go online', async () => {
    delete process.env.HF_HUB_OFFLINE;
    process.env.TRANSFORMERS_OFFLINE = '1';
    const err = await resolveRepo({ id: 'org/absent', repoType: 'model' }).catch((e: Error) => e);
    expect((err as Error).message).toContain('TRANSFORMERS_OFFLINE=1 forbids the network');
    process.env.HF_DATASETS_OFFLINE = '0';
    const online = await resolveRepo({ id: 'org/absent', repoType: 'dataset' }, { log: () => {} }).catch(
      (e: Error) => e,
    );
    expect((online as Error).message).toContain('cannot reach http://127.0.0.1:9');
  });

  it('a local folder is returned as it is, revision or not', async () => {
    expect(await resolveRepo({ id: modelDir('llama'), repoType: 'model', revision: 'v1' })).toBe(modelDir('llama'));
  });

  it('lists the files of a cached revision: its listing, else the snapshot', async () => {
    expect(await listRepoFiles({ id: 'tiny-org/partial', repoType: 'model' })).toEqual([
      'config.json',
      'model.safetensors',
    ]);
    expect(await listRepoFiles({ id: 'tiny-org/per-file', repoType: 'model' })).toEqual([
      'config.json',
      'model.safetensors',
    ]);
    expect(await listRepoFiles({ id: 'tiny-org/tiny-prefs', repoType: 'dataset' })).toEqual([
      'README.md',
      'data/test-00000-of-00001.parquet',
      'data/train-00000-of-00001.parquet',
      'docs/notes ü.txt',
    ]);
  });
});

describe('untrusted ids, revisions and cache contents', () => {
  it.each([
    ['../etc', 'model'],
    ['org/..', 'model'],
    ['org/../../x', 'dataset'],
    ['/no/such/path', 'model'],
    ['org--a/b', 'model'],
    ['a/b/c', 'model'],
  ] as const)('refuses the id %j before touching the cache', async (id, repoType) => {
    const err = await resolveRepo({ id, repoType }).catch((e: Error & { code: string }) => e);
    expect((err as { code: string }).code).toBe('ERR_NOT_FOUND');
    expect((err as Error).message).toMatch(/not a Hugging Face repo id/);
  });

  it.each(['../../../etc', '/abs', 'main/../../x', 'a//b', 'refs\\x', '.', ''])(
    'refuses the revision %j',
    async (revision) => {
      const err = await resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model', revision }).catch(
        (e: Error & { code: string }) => e,
      );
      expect((err as { code: string }).code).toBe('ERR_INVALID_ARG');
      expect(() =>
        tryToLoadFromCache(fixtureCache, 'tiny-org/tiny-llama', 'model', 'config.json', revision || '.'),
      ).toThrow(/revision/);
    },
  );

  it('refuses a file path that climbs out', () => {
    expect(() => tryToLoadFromCache(fixtureCache, 'tiny-org/tiny-llama', 'model', '../../refs/main')).toThrow(
      /'\.\.' segment/,
    );
    expect(() => tryToLoadFromCache(fixtureCache, 'tiny-org/tiny-llama', 'model', '/etc/passwd')).toThrow(/absolute/);
  });

  it('refuses a snapshot file that links outside the blobs of the cache', async () => {
    const cache = cacheCopy();
    offlineIn(cache);
    const secret = join(tempDir('hub-secret'), 'secret.json');
    writeFileSync(secret, '{}');
    const config = join(cache, `models--tiny-org--tiny-llama/snapshots/${A}/config.json`);
    unlinkSync(config);
    symlinkSync(secret, config);
    await expect(resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model' })).rejects.toThrow(
      /config\.json links to .*secret\.json, which is not a blob of the Hugging Face cache/,
    );
    expect(() => tryToLoadFromCache(cache, 'tiny-org/tiny-llama', 'model', 'config.json')).toThrow(/not a blob/);
    // Into another repo's files (not this repo's blobs/ nor the cache-wide store) is refused too.
    unlinkSync(config);
    symlinkSync(
      join(cache, 'models--tiny-org--pinned/snapshots/af379b2b126175ccd4b28cad1bda66f5eccbe2c0/config.json'),
      config,
    );
    expect(() => tryToLoadFromCache(cache, 'tiny-org/tiny-llama', 'model', 'config.json')).toThrow(
      /models--tiny-org--pinned\/blobs\/\w+, which is not a blob/,
    );
  });

  it("accepts a blob kept in huggingface_hub's cache-wide store (blobs/<xx>/<xet hash>, linked from the repo's blobs/)", async () => {
    const cache = cacheCopy();
    offlineIn(cache);
    const config = join(cache, `models--tiny-org--tiny-llama/snapshots/${A}/config.json`);
    const repoBlob = realpathSync(config);
    const xetHash = 'ab'.repeat(32);
    mkdirSync(join(cache, 'blobs', 'ab'), { recursive: true });
    renameSync(repoBlob, join(cache, 'blobs', 'ab', xetHash));
    symlinkSync(join('..', '..', 'blobs', 'ab', xetHash), repoBlob);
    expect(tryToLoadFromCache(cache, 'tiny-org/tiny-llama', 'model', 'config.json')).toBe(config);
    expect(await resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model' })).toBe(dirname(config));
  });

  it('refuses a ref that does not hold a commit hash', async () => {
    const cache = cacheCopy();
    offlineIn(cache);
    writeFileSync(join(cache, 'models--tiny-org--tiny-llama/refs/main'), '../../../../etc');
    await expect(resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model' })).rejects.toThrow(
      /refs\/main: a ref holds a 40-character commit hash/,
    );
  });

  it('without a listing, a model snapshot lacking a shard its index names, or config.json, is incomplete', async () => {
    const cache = cacheCopy();
    offlineIn(cache);
    const llama = join(cache, 'models--tiny-org--tiny-llama');
    rmSync(join(llama, 'trees'), { recursive: true });
    unlinkSync(join(llama, `snapshots/${B}/model-00002-of-00002.safetensors`));
    await expect(resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model', revision: 'v1' })).rejects.toThrow(
      /lacks 1 file\(s\): model-00002-of-00002\.safetensors/,
    );
    unlinkSync(join(llama, `snapshots/${A}/config.json`));
    await expect(resolveRepo({ id: 'tiny-org/tiny-llama', repoType: 'model' })).rejects.toThrow(
      /lacks 1 file\(s\): config\.json/,
    );
    // A dangling link (its blob deleted) is a missing file, not a present one.
    rmSync(realpathSync(join(llama, `snapshots/${A}/tokenizer.json`)));
    await expect(
      resolveRepo(
        { id: 'tiny-org/tiny-llama', repoType: 'model', revision: A },
        { allowPatterns: ['tokenizer.json', '*.md'] },
      ),
    ).rejects.toThrow(/lacks 1 file\(s\): tokenizer\.json/);
  });
});

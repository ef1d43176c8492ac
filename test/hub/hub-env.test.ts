// The environment variables, repo ids and file patterns read as huggingface_hub reads them: every case is
// huggingface_hub's own answer, recorded by scripts/fixtures/make_hub_cache.py (test/fixtures/hub/expected.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hubCacheDir, hubEndpoint, hubToken, hubTokenPath, isHubOffline } from '../../src/hub/hub-env.js';
import { filterRepoFiles } from '../../src/hub/file-patterns.js';
import { repoIdProblem } from '../../src/hub/repo-id.js';
import { isRepoId } from '../../src/hub/resolve.js';
import { tempDir } from '../helpers/fixtures.js';
import { expected, HUB_ENV, saveHubEnv } from './stand-in-hub.js';

const restoreEnv = saveHubEnv();

/** Exactly `vars` (with HOME=/home/alice, as the fixture's probes ran) among the variables the hub code reads. */
function setEnv(vars: Record<string, string>): void {
  for (const key of HUB_ENV) delete process.env[key];
  Object.assign(process.env, { HOME: '/home/alice' }, vars);
}

afterEach(restoreEnv);

describe('hub environment variables, as huggingface_hub reads them', () => {
  it.each(expected.cache_dirs as { env: Record<string, string>; hub_cache: string; token_path: string }[])(
    'cache dir under %j',
    ({ env, hub_cache, token_path }) => {
      setEnv(env);
      expect(hubCacheDir()).toBe(hub_cache);
      expect(hubTokenPath()).toBe(token_path);
    },
  );

  it.each(expected.tokens as { env: Record<string, string>; files: Record<string, string>; token: string | null }[])(
    'token under %j',
    ({ env, files, token }) => {
      const tmp = tempDir('hub-token');
      setEnv(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace('<TMP>', tmp)])));
      for (const [path, content] of Object.entries(files)) {
        const target = path.replace('<TMP>', tmp);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, content);
      }
      expect(hubToken() ?? null).toBe(token);
    },
  );

  it.each(expected.offline as { env: Record<string, string>; hub: boolean; datasets: boolean }[])(
    'offline under %j',
    ({ env, hub, datasets }) => {
      setEnv(env);
      expect(isHubOffline('model')).toBe(hub);
      expect(isHubOffline('dataset')).toBe(datasets);
    },
  );

  it.each(expected.endpoints as { env: Record<string, string>; endpoint: string }[])(
    'endpoint under %j',
    ({ env, endpoint }) => {
      setEnv(env);
      expect(hubEndpoint()).toBe(endpoint);
    },
  );
});

describe('repo ids and file patterns, as huggingface_hub validates and filters them', () => {
  it.each(expected.repo_ids as { id: string; valid: boolean }[])('validate_repo_id(%j)', ({ id, valid }) => {
    expect(repoIdProblem(id) === null).toBe(valid);
  });

  it('isRepoId: a valid id that is not an existing path', () => {
    expect(isRepoId('HuggingFaceH4/zephyr-7b-beta')).toBe(true);
    expect(isRepoId('test/fixtures')).toBe(false); // exists: a local folder wins, as in from_pretrained
    expect(isRepoId('./missing/model')).toBe(false);
    expect(isRepoId('../org/name')).toBe(false);
    expect(isRepoId('/abs/path')).toBe(false);
  });

  it.each(
    expected.patterns as { allow: string[] | null; ignore: string[] | null; paths: string[]; result: string[] }[],
  )('filter_repo_objects(allow %j)', ({ allow, ignore, paths, result }) => {
    expect(filterRepoFiles(paths, allow, ignore ?? [])).toEqual(result);
  });
});

// Downloading with the official @huggingface/hub client from a stand-in hub on 127.0.0.1 (HF_ENDPOINT), serving
// the repos huggingface_hub downloaded into test/fixtures/hub/cache: alignkit must write the very same layout
// (so Python finds its files), resume partial downloads, refuse bytes that do not hash to their etag, fall back to
// the cache when the hub is out of reach, and never touch the network offline.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listRepoFiles, resolveRepo } from '../../src/hub/resolve.js';
import { tempDir } from '../helpers/fixtures.js';
import { fileBytes, HUB_ENV, hubFixture, saveHubEnv, startStandInHub, type StandInHub } from './stand-in-hub.js';

const pythonCache = join(hubFixture, 'cache');
const A = 'e5f47f6d1663b5ab44393befa587f3385aae3de7';
const LLAMA = 'tiny-org/tiny-llama';
const restoreEnv = saveHubEnv();
let hub: StandInHub;
let cache: string;
let logs: string[];
const log = (m: string) => logs.push(m);

beforeAll(async () => {
  hub = await startStandInHub();
});
afterAll(() => hub.close());
beforeEach(() => {
  for (const key of HUB_ENV) if (key !== 'HOME') delete process.env[key];
  cache = join(tempDir('hub-download'), 'hub');
  Object.assign(process.env, { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url });
  hub.requests.length = 0;
  hub.served.clear();
  for (const key of Object.keys(hub.faults)) delete hub.faults[key as keyof typeof hub.faults];
  logs = [];
});
afterEach(restoreEnv);

/** Every entry under `root`: folders, link targets as written, file contents' sha256. */
function layout(root: string, skip: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const rel = prefix + name;
      if (skip.includes(rel)) continue;
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) out[rel] = `-> ${readlinkSync(path)}`;
      else if (stat.isDirectory()) {
        out[rel] = 'dir';
        walk(path, `${rel}/`);
      } else out[rel] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(root, '');
  return out;
}

const contentRequests = () => hub.requests.filter((r) => r.kind === 'resolve' && r.range !== 'bytes=0-0');
const model = 'models--tiny-org--tiny-llama';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('downloading into the hub cache', () => {
  it('writes exactly the layout huggingface_hub writes: blobs, relative links, refs, trees', async () => {
    for (const revision of ['main', 'v1', 'v1.0', 'refs/pr/1']) {
      await resolveRepo({ id: LLAMA, repoType: 'model', revision }, { allowPatterns: ['*'], log });
    }
    expect(layout(join(cache, model))).toEqual(layout(join(pythonCache, model), ['.no_exist']));
    const dataset = 'datasets--tiny-org--tiny-prefs';
    expect(await resolveRepo({ id: 'tiny-org/tiny-prefs', repoType: 'dataset' }, { log })).toBe(
      join(cache, dataset, 'snapshots', readFileSync(join(pythonCache, dataset, 'refs/main'), 'utf8')),
    );
    expect(layout(join(cache, dataset))).toEqual(layout(join(pythonCache, dataset)));
    expect(existsSync(join(cache, 'CACHEDIR.TAG'))).toBe(true);
    expect(readdirSync(join(cache, '.locks', model))).toEqual([]); // locks released
  });

  it('fetches only what a model needs by default, says so, and fetches nothing it already has', async () => {
    const dir = await resolveRepo({ id: LLAMA, repoType: 'model' }, { log });
    expect(dir).toBe(join(cache, model, 'snapshots', A));
    expect(readdirSync(dir).sort()).toEqual([
      'chat_template.jinja',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(
      contentRequests()
        .map((r) => r.path)
        .sort(),
    ).toEqual(readdirSync(dir).sort());
    expect(logs[0]).toBe(
      `hub: downloading 6 file(s), 0.0 MB, of model ${LLAMA} (revision main, commit ${A}) into ${join(cache, model)}`,
    );
    expect(logs.at(-1)).toMatch(/^hub: tiny-org\/tiny-llama: 6 file\(s\), 0\.0 MB, downloaded in \d+\.\d s$/);

    hub.requests.length = 0;
    logs = [];
    expect(await resolveRepo({ id: LLAMA, repoType: 'model' }, { log })).toBe(dir);
    expect(hub.requests.map((r) => r.kind)).toEqual(['revision']); // asks where main is, as Python does online
    expect(logs).toEqual([]);
    hub.requests.length = 0;
    expect(await resolveRepo({ id: LLAMA, repoType: 'model', revision: A }, { log })).toBe(dir);
    expect(hub.requests).toEqual([]); // a commit hash with a complete snapshot: no call at all

    // v1 shares config.json's blob with main: linked, not fetched again.
    await resolveRepo({ id: LLAMA, repoType: 'model', revision: 'v1' }, { log });
    expect(contentRequests().map((r) => r.path)).not.toContain('config.json');
  });

  it('reports progress per byte to onProgress', async () => {
    const seen: number[] = [];
    await resolveRepo(
      { id: 'tiny-org/pinned', repoType: 'model' },
      { log, progressIntervalMs: 0, onProgress: (p) => seen.push(p.bytes / p.totalBytes) },
    );
    expect(seen.at(-1)).toBe(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // The log's progress lines (at most one per progressIntervalMs): bytes so far, total, share, rate, file.
    expect(
      logs.some((l) =>
        /^hub: tiny-org\/pinned: [\d.]+ MB of [\d.]+ MB \(100%\), [\d.]+ [MG]B\/s, model\.safetensors$/.test(l),
      ),
      logs.join('\n'),
    ).toBe(true);
  });

  it('refuses a model whose only weights are not safetensors, before downloading anything', async () => {
    await expect(resolveRepo({ id: 'tiny-org/bin-only', repoType: 'model' }, { log })).rejects.toMatchObject({
      code: 'ERR_INVALID_MODEL',
      message: expect.stringMatching(
        /model tiny-org\/bin-only \(revision main, commit \w+\) has weights only as pytorch_model\.bin: alignkit reads safetensors weights/,
      ),
    });
    expect(contentRequests()).toEqual([]);
  });

  it('resumes from blobs/<etag>.incomplete with a ranged request', async () => {
    const bytes = fileBytes(LLAMA, A, 'model.safetensors');
    mkdirSync(join(cache, model, 'blobs'), { recursive: true });
    writeFileSync(join(cache, model, 'blobs', `${sha256(bytes)}.incomplete`), bytes.subarray(0, 100));
    const dir = await resolveRepo({ id: LLAMA, repoType: 'model' }, { log });
    expect(logs).toContain('hub: resuming model.safetensors from byte 100');
    expect(
      contentRequests()
        .filter((r) => r.path === 'model.safetensors')
        .map((r) => r.range),
    ).toEqual(['bytes=100-299']);
    expect(hub.served.get('model.safetensors')).toBe(200);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(bytes);
  });

  it('resumes after the connection drops mid-file', async () => {
    hub.faults.dropAfter = new Map([['model.safetensors', 120]]);
    const dir = await resolveRepo({ id: LLAMA, repoType: 'model' }, { log });
    expect(logs.some((l) => /^hub: model\.safetensors: .*; resuming \(try 2 of 5\)$/.test(l))).toBe(true);
    expect(
      contentRequests()
        .filter((r) => r.path === 'model.safetensors')
        .map((r) => r.range),
    ).toEqual([undefined, 'bytes=120-299']);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(fileBytes(LLAMA, A, 'model.safetensors'));
  });

  it('starts over when a server ignores Range on a resumed download', async () => {
    const bytes = fileBytes(LLAMA, A, 'model.safetensors');
    mkdirSync(join(cache, model, 'blobs'), { recursive: true });
    writeFileSync(join(cache, model, 'blobs', `${sha256(bytes)}.incomplete`), bytes.subarray(0, 50));
    hub.faults.ignoreRange = true;
    const dir = await resolveRepo({ id: LLAMA, repoType: 'model' }, { log });
    expect(
      logs.some(
        (l) =>
          l.includes('model.safetensors: the resumed download came out wrong') &&
          l.includes('downloading it again from the start'),
      ),
    ).toBe(true);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(bytes);
  });

  it.each([
    ['model.safetensors', 'sha256'],
    ['config.json', 'git blob id'],
  ])('refuses %s when its bytes do not hash to its etag (%s), keeping nothing', async (file, hash) => {
    hub.faults.corrupt = new Set([file]);
    const err = await resolveRepo({ id: LLAMA, repoType: 'model' }, { log }).catch((e: Error) => e);
    expect(err).toMatchObject({
      code: 'ERR_INVALID_FILE',
      message: expect.stringContaining(`${LLAMA}: ${file} at commit ${A} came with ${hash} `),
    });
    const blobs = readdirSync(join(cache, model, 'blobs'));
    expect(blobs.some((b) => b.endsWith('.incomplete'))).toBe(false);
    expect(existsSync(join(cache, model, 'snapshots', A, file))).toBe(false);
    hub.faults.corrupt = undefined;
    expect(readFileSync(join(await resolveRepo({ id: LLAMA, repoType: 'model' }, { log }), file))).toEqual(
      fileBytes(LLAMA, A, file),
    );
  });

  it('a file the hub refuses mid-run is an ERR_HUB error naming it', async () => {
    hub.faults.forbidden = new Set(['model.safetensors']);
    await expect(resolveRepo({ id: LLAMA, repoType: 'model' }, { log })).rejects.toMatchObject({
      code: 'ERR_HUB',
      message: expect.stringContaining(
        `${LLAMA}: downloading model.safetensors at commit ${A} failed (HTTP 403: Access to this file is restricted`,
      ),
    });
  });

  it('sends the token (HF_TOKEN) to the hub with every call', async () => {
    process.env.HF_TOKEN = 'hf_secret';
    await resolveRepo({ id: 'tiny-org/pinned', repoType: 'model' }, { log });
    expect(hub.requests.length).toBeGreaterThan(2);
    expect(new Set(hub.requests.map((r) => r.authorization))).toEqual(new Set(['Bearer hf_secret']));
  });

  it('two resolutions at once download each file once', async () => {
    const [a, b] = await Promise.all([
      resolveRepo({ id: LLAMA, repoType: 'model' }, { log }),
      resolveRepo({ id: LLAMA, repoType: 'model' }, { log }),
    ]);
    expect(a).toBe(b);
    for (const file of readdirSync(a)) expect(hub.served.get(file)).toBe(fileBytes(LLAMA, A, file).length);
  });

  it('lists the repo files from the hub, keeping the listing', async () => {
    expect(await listRepoFiles({ id: 'tiny-org/tiny-prefs', repoType: 'dataset' })).toEqual([
      'README.md',
      'data/test-00000-of-00001.parquet',
      'data/train-00000-of-00001.parquet',
      'docs/notes ü.txt',
    ]);
    const dataset = 'datasets--tiny-org--tiny-prefs';
    expect(readdirSync(join(cache, dataset, 'trees'))).toEqual(readdirSync(join(pythonCache, dataset, 'trees')));
  });
});

describe('when the hub says no, cannot be reached, or must not be asked', () => {
  it('a revision the hub does not have is an error', async () => {
    await expect(resolveRepo({ id: LLAMA, repoType: 'model', revision: 'v9' }, { log })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining(
        "model tiny-org/tiny-llama: the hub has no revision 'v9' (HTTP 404 RevisionNotFound",
      ),
    });
  });

  it('a repo the hub refuses, not cached, says the token may be the cause', async () => {
    await expect(resolveRepo({ id: 'tiny-org/private', repoType: 'model' }, { log })).rejects.toThrow(
      /http:\/\/127\.0\.0\.1:\d+ answered HTTP 401 RepoNotFound: .* \(a private or gated repo needs a token with access: set HF_TOKEN, or run `hf auth login`\); run once/,
    );
  });

  it('a hub out of reach falls back to the cache, as huggingface_hub does', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    process.env.HF_ENDPOINT = `http://127.0.0.1:${closed}`;
    cpSync(pythonCache, cache, { recursive: true, verbatimSymlinks: true });
    const dir = await resolveRepo({ id: LLAMA, repoType: 'model', revision: 'v1' }, { log });
    expect(dir).toBe(join(cache, model, 'snapshots', readFileSync(join(cache, model, 'refs/v1'), 'utf8')));
    expect(logs).toEqual([
      expect.stringMatching(
        new RegExp(
          `^hub: cannot reach http://127\\.0\\.0\\.1:${closed} \\(fetch failed \\(ECONNREFUSED\\)\\); using the cached snapshot ${dir}$`,
        ),
      ),
    ]);
    await expect(resolveRepo({ id: 'tiny-org/absent', repoType: 'model' }, { log })).rejects.toThrow(
      /model 'tiny-org\/absent' \(revision main\) is not in the Hugging Face cache: .* cannot reach http:\/\/127\.0\.0\.1:\d+ \(fetch failed \(ECONNREFUSED\)\); run once with network access/,
    );
  });

  it('offline, the hub is never asked', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveRepo({ id: LLAMA, repoType: 'model' }, { log })).rejects.toThrow(
      /HF_HUB_OFFLINE=1 forbids the network/,
    );
    await expect(listRepoFiles({ id: LLAMA, repoType: 'model' })).rejects.toThrow(
      /HF_HUB_OFFLINE=1 forbids the network/,
    );
    expect(hub.requests).toEqual([]);
  });
});

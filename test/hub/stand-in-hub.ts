// A stand-in for the Hugging Face hub on 127.0.0.1, serving the repos of test/fixtures/hub/repos.json with the
// answers scripts/fixtures/make_hub_cache.py's stand-in gave huggingface_hub (repo info, recursive tree listing,
// resolve with Range): so what alignkit downloads can be compared with the cache huggingface_hub wrote. Faults
// can be injected per file: corrupt bytes, a dropped connection, a server that ignores Range.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/fixtures.js';

interface RepoSpec {
  type: 'model' | 'dataset';
  refs: Record<string, string>;
  commits: Record<string, Record<string, { lfs: boolean; base64: string }>>;
}

export const hubFixture = join(fixturesDir, 'hub');
export const repos = JSON.parse(readFileSync(join(hubFixture, 'repos.json'), 'utf8')) as Record<string, RepoSpec>;
export const expected = JSON.parse(readFileSync(join(hubFixture, 'expected.json'), 'utf8'));

/** Every variable the hub code reads (and two the fixture's cases use), to clear and restore around a test. */
export const HUB_ENV = [
  'HOME',
  'HF_HOME',
  'XDG_CACHE_HOME',
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HUB_DISABLE_IMPLICIT_TOKEN',
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'HF_DATASETS_OFFLINE',
  'HF_ENDPOINT',
  'DATA',
  'NOT_SET',
];

/** The current values of HUB_ENV; call the result to put them back. */
export function saveHubEnv(): () => void {
  const saved = Object.fromEntries(HUB_ENV.map((key) => [key, process.env[key]]));
  return () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

export interface HubRequest {
  method: string;
  kind: 'revision' | 'tree' | 'resolve';
  repo: string;
  path?: string;
  range?: string;
  authorization?: string;
}

export interface Faults {
  /** Files (repo path) served with one byte flipped. */
  corrupt?: Set<string>;
  /** Files whose first full transfer is cut after this many bytes. */
  dropAfter?: Map<string, number>;
  /** Serve every ranged content request whole with 200 (as a proxy that drops Range). */
  ignoreRange?: boolean;
  /** Files (repo path) whose resolve requests get 403 (access revoked mid-run). */
  forbidden?: Set<string>;
}

const gitOid = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const pointer = (data: Buffer) =>
  Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`);

function treeEntries(files: RepoSpec['commits'][string]): unknown[] {
  const paths = Object.keys(files).sort();
  const folders = [
    ...new Set(
      paths.flatMap((p) =>
        p
          .split('/')
          .slice(0, -1)
          .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
      ),
    ),
  ].sort();
  return [
    ...folders.map((path) => ({
      type: 'directory',
      oid: createHash('sha1').update(path).digest('hex'),
      size: 0,
      path,
    })),
    ...paths.map((path) => {
      const data = Buffer.from(files[path]!.base64, 'base64');
      if (!files[path]!.lfs) return { type: 'file', oid: gitOid(data), size: data.length, path };
      const p = pointer(data);
      return {
        type: 'file',
        oid: gitOid(p),
        size: data.length,
        path,
        lfs: { oid: sha256(data), size: data.length, pointerSize: p.length },
      };
    }),
  ];
}

export interface StandInHub {
  url: string;
  requests: HubRequest[];
  faults: Faults;
  /** Bytes of file content served, per repo path. */
  served: Map<string, number>;
  close(): Promise<void>;
}

export async function startStandInHub(): Promise<StandInHub> {
  const requests: HubRequest[] = [];
  const faults: Faults = {};
  const served = new Map<string, number>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    let parts = new URL(req.url!, 'http://x').pathname.split('/').slice(1);
    let repoType: 'model' | 'dataset';
    let repoParts: string[];
    let kind: string;
    let rest: string[];
    if (parts[0] === 'api') {
      repoType = parts[1] === 'datasets' ? 'dataset' : 'model';
      [repoParts, kind, rest] = [parts.slice(2, 4), parts[4]!, parts.slice(5)];
    } else {
      repoType = parts[0] === 'datasets' ? 'dataset' : 'model';
      if (parts[0] === 'datasets') parts = parts.slice(1);
      [repoParts, kind, rest] = [parts.slice(0, 2), parts[2]!, parts.slice(3)];
    }
    const repoId = repoParts.map(decodeURIComponent).join('/');
    const path = kind === 'resolve' ? rest.slice(1).map(decodeURIComponent).join('/') : undefined;
    requests.push({
      method: req.method!,
      kind: kind as HubRequest['kind'],
      repo: repoId,
      path,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    const spec = repos[repoId];
    if (!spec || spec.type !== repoType)
      return json(401, { error: 'Repository Not Found' }, { 'X-Error-Code': 'RepoNotFound' });
    const revision = decodeURIComponent(rest[0] ?? '');
    const sha = spec.refs[revision] ?? (spec.commits[revision] ? revision : undefined);
    if (!sha) return json(404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });
    const files = spec.commits[sha]!;
    if (kind === 'revision')
      return json(200, {
        _id: repoId,
        id: repoId,
        sha,
        private: false,
        siblings: Object.keys(files).map((rfilename) => ({ rfilename })),
      });
    if (kind === 'tree') return json(200, treeEntries(files));
    const file = files[path!];
    if (!file)
      return json(404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': sha });
    if (faults.forbidden?.has(path!)) return json(403, { error: 'Access to this file is restricted' });
    let data = Buffer.from(file.base64, 'base64');
    const etag = file.lfs ? sha256(data) : gitOid(data);
    if (faults.corrupt?.has(path!))
      data = Buffer.concat([data.subarray(0, 10), Buffer.from([data[10]! ^ 0xff]), data.subarray(11)]);
    const headers: Record<string, string> = {
      'X-Repo-Commit': sha,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      ETag: `"${etag}"`,
      ...(file.lfs ? { 'X-Linked-Etag': `"${etag}"`, 'X-Linked-Size': String(data.length) } : {}),
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const probe = range && range[1] === '0' && range[2] === '0'; // the client's size probe, always honoured
    if (range && (probe || !faults.ignoreRange)) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : data.length - 1;
      const body = data.subarray(start, end + 1);
      if (!probe) served.set(path!, (served.get(path!) ?? 0) + body.length);
      return res
        .writeHead(206, {
          ...headers,
          'Content-Range': `bytes ${start}-${end}/${data.length}`,
          'Content-Length': String(body.length),
        })
        .end(body);
    }
    const cut = faults.dropAfter?.get(path!);
    if (cut !== undefined) {
      faults.dropAfter!.delete(path!);
      served.set(path!, (served.get(path!) ?? 0) + cut);
      res.writeHead(200, { ...headers, 'Content-Length': String(data.length) });
      res.write(data.subarray(0, cut), () => res.destroy());
      return;
    }
    served.set(path!, (served.get(path!) ?? 0) + data.length);
    res.writeHead(200, { ...headers, 'Content-Length': String(data.length) }).end(data);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    served,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The bytes of a repo file at a commit, as repos.json holds them. */
export function fileBytes(repo: string, commit: string, path: string): Buffer {
  return Buffer.from(repos[repo]!.commits[commit]![path]!.base64, 'base64');
}

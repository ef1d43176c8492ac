// A stand-in for the Hugging Face Hub's upload endpoints on 127.0.0.1, as the @huggingface/hub client calls them
// (HF_ENDPOINT points the client at it): whoami-v2, repos/create, preupload (which files go by LFS), the LFS batch
// and object PUT (sha256 checked), and the ndjson commit. It records each repo created and each commit's files.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Commit {
  repo: string;
  branch: string;
  title: string;
  /** path in repo → sha256 of its bytes */
  files: Record<string, string>;
}

export interface UploadServer {
  endpoint: string;
  user: string;
  repos: { name: string; organization: string; visibility?: string }[];
  commits: Commit[];
  /** Authorization headers seen. */
  tokens: Set<string>;
  /** While set, commit requests wait for it (a push still uploading). */
  hold: Promise<void> | null;
  close(): Promise<void>;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** `existing`: repos that already exist (create answers 409, as the hub does). */
export async function startUploadServer(existing: string[] = []): Promise<UploadServer> {
  const lfs = new Map<string, Buffer>();
  const state: Omit<UploadServer, 'endpoint' | 'close'> = {
    user: 'tester',
    repos: [],
    commits: [],
    tokens: new Set(),
    hold: null,
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://127.0.0.1');
    if (req.headers.authorization) state.tokens.add(req.headers.authorization);
    const data = await body(req);
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && url.pathname === '/api/whoami-v2')
      return json(res, 200, { type: 'user', name: state.user, auth: {} });
    if (req.method === 'POST' && url.pathname === '/api/repos/create') {
      const repo = JSON.parse(data.toString()) as UploadServer['repos'][number];
      if (existing.includes(`${repo.organization}/${repo.name}`))
        return json(res, 409, { error: 'You already created this model repo' });
      state.repos.push(repo);
      return json(res, 200, {
        url: `${endpoint}/${repo.organization}/${repo.name}`,
        id: `${repo.organization}/${repo.name}`,
      });
    }
    if (req.method === 'POST' && /^\/api\/models\/(.+)\/preupload\/(.+)$/.test(url.pathname)) {
      const { files } = JSON.parse(data.toString()) as { files: { path: string }[] };
      return json(res, 200, {
        files: files.map((f) => ({ path: f.path, uploadMode: f.path.endsWith('.safetensors') ? 'lfs' : 'regular' })),
      });
    }
    if (req.method === 'POST' && /^\/(.+)\.git\/info\/lfs\/objects\/batch$/.test(url.pathname)) {
      const { objects } = JSON.parse(data.toString()) as { objects: { oid: string; size: number }[] };
      return json(res, 200, {
        transfer: 'basic',
        objects: objects.map((o) => ({
          ...o,
          actions: lfs.has(o.oid) ? undefined : { upload: { href: `${endpoint}/lfs-objects/${o.oid}` } },
        })),
      });
    }
    if (req.method === 'PUT' && (m = /^\/lfs-objects\/([0-9a-f]{64})$/.exec(url.pathname))) {
      if (sha256(data) !== m[1]) return json(res, 400, { error: 'sha256 mismatch' });
      lfs.set(m[1]!, data);
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'POST' && (m = /^\/api\/models\/(.+)\/commit\/(.+)$/.exec(url.pathname))) {
      await state.hold;
      const lines = data
        .toString()
        .split('\n')
        .map((line) => JSON.parse(line) as { key: string; value: Record<string, string> });
      const files: Record<string, string> = {};
      for (const { key, value } of lines) {
        if (key === 'file') files[value.path!] = sha256(Buffer.from(value.content!, 'base64'));
        if (key === 'lfsFile') {
          if (!lfs.has(value.oid!)) return json(res, 400, { error: `LFS object ${value.oid} was not uploaded` });
          files[value.path!] = value.oid!;
        }
      }
      const header = lines.find((l) => l.key === 'header')!.value;
      state.commits.push({ repo: m[1]!, branch: decodeURIComponent(m[2]!), title: header.summary!, files });
      return json(res, 200, {
        commitOid: `${state.commits.length}`.padStart(40, '0'),
        commitUrl: `${endpoint}/${m[1]}/commit/${state.commits.length}`,
      });
    }
    json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    endpoint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

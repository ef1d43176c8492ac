// The hub calls a download makes, through the official @huggingface/hub client: the commit a revision points at,
// the repo's file listing at that commit, and a file's bytes. One fetch wrapper gives every call what
// huggingface_hub gives its own: the endpoint (HF_ENDPOINT), the token (HF_TOKEN & co., sent only to the hub's
// own origin), a timeout on metadata calls (HF_HUB_ETAG_TIMEOUT), and the hub's X-Error-Code kept for errors.
import { datasetInfo, downloadFile, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { AlignkitError } from '../errors.js';
import { hubEndpoint, hubToken, metadataTimeoutSeconds } from './hub-env.js';
import type { RepoType } from './repo-id.js';

/** One file of the hub's tree listing, as `list_repo_tree` returns it. */
export interface RepoTreeFile {
  path: string;
  size: number;
  /** The git blob id (of the LFS pointer, for an LFS file). */
  oid: string;
  /** The LFS object: its sha256 is the file's etag, the blob's name in the cache and what its bytes must hash to. */
  lfs?: { oid: string; size: number };
  xetHash?: string;
}

export interface HubClient {
  readonly endpoint: string;
  /** The commit `revision` (branch, tag or commit) points at on the hub. */
  commitOf(revision: string): Promise<string>;
  /** Every file of the repo at `commit`. */
  listFiles(commit: string): Promise<RepoTreeFile[]>;
  /** A file's bytes at `commit` (a Blob that fetches ranges lazily), or null when the hub has no such file. */
  openFile(commit: string, path: string): Promise<Blob | null>;
}

/** The hub's X-Error-Code of a failed response (RepoNotFound, RevisionNotFound, GatedRepo, EntryNotFound). */
const errorCodes = new WeakMap<HubApiError, string>();

export function hubErrorCode(err: unknown): string | undefined {
  return err instanceof HubApiError ? errorCodes.get(err) : undefined;
}

export function createHubClient(id: string, repoType: RepoType): HubClient {
  const endpoint = hubEndpoint();
  const origin = new URL(endpoint).origin;
  const token = hubToken();
  const codes = new Map<string, string>();

  const wrap =
    (timeoutMs: number | null): typeof fetch =>
    async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers = new Headers(init?.headers);
      if (token && url.origin === origin) headers.set('Authorization', `Bearer ${token}`);
      const signal = timeoutMs === null ? init?.signal : AbortSignal.timeout(timeoutMs);
      const response = await fetch(input, { ...init, headers, ...(signal ? { signal } : {}) });
      const code = response.headers.get('X-Error-Code');
      if (!response.ok && code) codes.set(response.url || url.href, code);
      return response;
    };
  const metadataFetch = wrap(metadataTimeoutSeconds() * 1000);
  const contentFetch = wrap(null);
  const repo = { type: repoType, name: id } as const;

  const keepCode = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof HubApiError) {
        const code = codes.get(err.url);
        if (code) errorCodes.set(err, code);
      }
      throw err;
    }
  };

  return {
    endpoint,
    commitOf: (revision) =>
      keepCode(async () => {
        const params = {
          name: id,
          revision,
          hubUrl: endpoint,
          fetch: metadataFetch,
          additionalFields: ['sha' as const],
        };
        const info = repoType === 'model' ? await modelInfo(params) : await datasetInfo(params);
        if (typeof info.sha !== 'string')
          throw new AlignkitError(
            'ERR_INVALID_DATA',
            `${endpoint}: the hub's answer for ${id}@${revision} has no commit sha`,
          );
        return info.sha;
      }),
    listFiles: (commit) =>
      keepCode(async () => {
        const files: RepoTreeFile[] = [];
        for await (const entry of listFiles({
          repo,
          revision: commit,
          recursive: true,
          hubUrl: endpoint,
          fetch: metadataFetch,
        })) {
          if (entry.type !== 'file') continue;
          files.push({
            path: entry.path,
            size: entry.size,
            oid: entry.oid ?? '',
            ...(entry.lfs ? { lfs: { oid: entry.lfs.oid, size: entry.lfs.size } } : {}),
            ...(entry.xetHash ? { xetHash: entry.xetHash } : {}),
          });
        }
        return files;
      }),
    // Plain HTTP (xet: false): one code path whose ranged requests resume a partial download; the hub serves every
    // file, Xet-stored ones included, that way (as huggingface_hub does without hf_xet).
    openFile: (commit, path) =>
      keepCode(() => downloadFile({ repo, path, revision: commit, hubUrl: endpoint, fetch: contentFetch, xet: false })),
  };
}

/**
 * Whether the hub answered that the repo has no such revision: the one failure huggingface_hub does not cover with
 * the cache (network errors, timeouts, server errors and refused access fall back to what the cache holds).
 */
export function isRevisionNotFound(err: unknown): boolean {
  return hubErrorCode(err) === 'RevisionNotFound';
}

/** A short reason for a failed hub call, for messages. */
export function hubFailure(err: unknown): string {
  if (err instanceof HubApiError)
    return `HTTP ${err.statusCode}${hubErrorCode(err) ? ` ${hubErrorCode(err)}` : ''}: ${err.message}`;
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code
      ? `${err.message} (${cause.code})`
      : err.name === 'TimeoutError'
        ? `no answer within ${metadataTimeoutSeconds()} s (HF_HUB_ETAG_TIMEOUT)`
        : err.message;
  }
  return String(err);
}

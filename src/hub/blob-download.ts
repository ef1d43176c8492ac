// One file's bytes into blobs/<etag>, as huggingface_hub's _hf_hub_download_to_cache_dir does, plus what it lacks:
// a download resumes from blobs/<etag>.incomplete (left by an interrupted run) with a ranged request, and the
// result must hash to its etag — sha256 for an LFS file, the git blob id for the others — before it is renamed
// into place. huggingface_hub checks the size only.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rm, rename, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AlignkitError } from '../errors.js';
import { blobFile, type RepoCache } from './cache-layout.js';
import { withFileLock } from './file-lock.js';
import type { HubClient, RepoTreeFile } from './hub-client.js';
import { repoFolderName } from './repo-id.js';

/** Network failures retried (each resuming where the last stopped), as http_get's retries. */
const ATTEMPTS = 5;

/** The name of a file's blob: its LFS sha256, else its git blob id (what the hub sends as ETag). */
export function etagOf(file: RepoTreeFile): string {
  const etag = file.lfs?.oid ?? file.oid;
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(etag))
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${file.path}: the hub's listing gives it no usable id (${JSON.stringify(etag)})`,
    );
  return etag;
}

/** The hash a file's bytes must have: sha256 for LFS, else git's sha1 of "blob <size>\0" + bytes. */
async function contentHash(path: string, lfs: boolean): Promise<string> {
  const hash = createHash(lfs ? 'sha256' : 'sha1');
  if (!lfs) hash.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Told the bytes of the file now on disk (a resumed download starts above 0). */
export type BlobProgress = (bytesOnDisk: number) => void;

/** Appends the file's bytes from `offset` to `partial`; throws past the expected size (a server ignoring Range). */
async function fetchInto(
  client: HubClient,
  commit: string,
  file: RepoTreeFile,
  partial: string,
  offset: number,
  progress: BlobProgress,
): Promise<void> {
  const blob = await client.openFile(commit, file.path);
  if (!blob)
    throw new AlignkitError('ERR_NOT_FOUND', `${file.path}: listed at commit ${commit} but the hub has no such file`);
  const size = file.lfs?.size ?? file.size;
  let onDisk = offset;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onDisk += chunk.length;
      if (onDisk > size)
        return done(new AlignkitError('ERR_INVALID_FILE', `${file.path}: the hub sent more than its ${size} bytes`));
      progress(onDisk);
      done(null, chunk);
    },
  });
  const body = (offset > 0 ? blob.slice(offset) : blob).stream() as unknown as WebReadableStream;
  await pipeline(Readable.fromWeb(body), count, createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' }));
}

/** Whether a failed transfer is worth another try: the network, a timeout, the server busy or failing. */
function retriable(err: unknown): boolean {
  if (err instanceof AlignkitError) return false;
  if (typeof (err as NodeJS.ErrnoException).path === 'string') return false; // the local disk (ENOSPC, EACCES), not the network
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status !== 'number' || status >= 500 || status === 408 || status === 429;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  /** What was wrong with the bytes (size or hash), or null when they are right. */
  failure: string | null;
  /** Whether some bytes came from before this call or an earlier attempt (a ranged request was made). */
  resumed: boolean;
}

/** Brings `partial` to the file's full size (resuming, retrying network failures), then checks its hash. */
async function fetchAndVerify(
  client: HubClient,
  commit: string,
  file: RepoTreeFile,
  partial: string,
  progress: BlobProgress,
  log: (m: string) => void,
): Promise<Outcome> {
  const size = file.lfs?.size ?? file.size;
  let resumed = false;
  for (let attempt = 1; ; attempt++) {
    let onDisk = existsSync(partial) ? statSync(partial).size : 0;
    if (onDisk > size) {
      await truncate(partial, 0);
      onDisk = 0;
    }
    if (existsSync(partial) && onDisk === size) break;
    resumed ||= onDisk > 0;
    try {
      await fetchInto(client, commit, file, partial, onDisk, progress);
      break;
    } catch (raw) {
      const err = raw instanceof Error ? raw : new Error(String(raw)); // WebBlob aborts its stream with a string
      if (err instanceof AlignkitError && err.code === 'ERR_INVALID_FILE') {
        await rm(partial, { force: true });
        return { failure: err.message, resumed };
      }
      if (!retriable(err) || attempt >= ATTEMPTS) throw err;
      log(`hub: ${file.path}: ${err.message}; resuming (try ${attempt + 1} of ${ATTEMPTS})`);
      await sleep(1000);
    }
  }
  const got = statSync(partial).size;
  const actual = got === size ? await contentHash(partial, Boolean(file.lfs)) : null;
  if (actual === etagOf(file)) return { failure: null, resumed };
  await rm(partial, { force: true });
  return {
    failure:
      actual === null
        ? `${got} bytes instead of ${size}`
        : `${file.lfs ? 'sha256' : 'git blob id'} ${actual} instead of ${etagOf(file)}`,
    resumed,
  };
}

/**
 * Makes blobs/<etag> hold `file`'s bytes (at `commit`), downloading what is missing. Safe across processes: one
 * downloads under .locks/<repo folder>/<etag>.alignkit.lock while the others wait and then find the blob.
 */
export async function downloadBlob(
  repo: RepoCache,
  client: HubClient,
  commit: string,
  file: RepoTreeFile,
  progress: BlobProgress,
  log: (m: string) => void,
): Promise<string> {
  const etag = etagOf(file);
  const blob = blobFile(repo, etag);
  if (existsSync(blob)) return blob;
  const lock = join(repo.cacheDir, '.locks', repoFolderName(repo.id, repo.repoType), `${etag}.alignkit.lock`);
  return withFileLock(
    lock,
    async () => {
      if (existsSync(blob)) return blob; // another process finished it while we waited
      await mkdir(dirname(blob), { recursive: true });
      const partial = `${blob}.incomplete`;
      if (existsSync(partial)) log(`hub: resuming ${file.path} from byte ${statSync(partial).size}`);
      let outcome = await fetchAndVerify(client, commit, file, partial, progress, log);
      // Bytes kept from an earlier try may be what went wrong (or a server that ignored Range): start over once.
      if (outcome.failure && outcome.resumed) {
        log(
          `hub: ${file.path}: the resumed download came out wrong (${outcome.failure}); downloading it again from the start`,
        );
        outcome = await fetchAndVerify(client, commit, file, partial, progress, log);
      }
      if (outcome.failure) {
        throw new AlignkitError(
          'ERR_INVALID_FILE',
          `${repo.id}: ${file.path} at commit ${commit} came with ${outcome.failure}; nothing was kept (run again to retry)`,
        );
      }
      await rename(partial, blob);
      return blob;
    },
    () => log(`hub: waiting for another process downloading ${file.path} (${lock})`),
  );
}

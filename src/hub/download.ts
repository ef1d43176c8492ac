// snapshot_download into the hub cache, in huggingface_hub's layout so Python finds the files too: ask the hub
// which commit the revision is, list the repo at that commit (kept as trees/<commit>.json), record
// refs/<revision>, then for each chosen file make blobs/<etag> (blob-download.ts) and the relative link
// snapshots/<commit>/<path> → ../../blobs/<etag>. Files already in the snapshot are not fetched again.
import { copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { AlignkitError } from '../errors.js';
import {
  blobFile,
  readTreeListing,
  refFile,
  snapshotDir,
  snapshotFile,
  writeAtomic,
  writeTreeListing,
  checkSnapshotEntry,
  readRef,
  type RepoCache,
  type TreeEntry,
} from './cache-layout.js';
import { downloadBlob, etagOf } from './blob-download.js';
import { filterRepoFiles, modelFiles } from './file-patterns.js';
import { hubFailure, type HubClient, type RepoTreeFile } from './hub-client.js';
import { COMMIT_HASH, repoFileProblem } from './repo-id.js';

export interface DownloadProgress {
  file: string;
  /** Bytes of the files to fetch now on disk, and their total. */
  bytes: number;
  totalBytes: number;
}

export interface SnapshotDownloadOptions {
  /** Files to fetch (fnmatch, as snapshot_download's allow_patterns); default: what a model or dataset needs. */
  allowPatterns?: string[];
  log?: (message: string) => void;
  onProgress?: (progress: DownloadProgress) => void;
  /** Milliseconds between progress lines in the log (default 5000). */
  progressIntervalMs?: number;
}

const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n' +
  '# This file is a cache directory tag created by huggingface_hub (here by alignkit, in its layout).\n' +
  '# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n';

export const megabytes = (bytes: number) =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;

function treeEntry(file: RepoTreeFile): TreeEntry {
  return {
    size: file.size,
    blob_id: file.oid,
    ...(file.lfs ? { lfs_sha256: file.lfs.oid, lfs_size: file.lfs.size } : {}),
    ...(file.xetHash ? { xet_hash: file.xetHash } : {}),
  };
}

export function fromTreeEntry(path: string, entry: TreeEntry): RepoTreeFile {
  return {
    path,
    size: entry.size,
    oid: entry.blob_id,
    ...(entry.lfs_sha256 ? { lfs: { oid: entry.lfs_sha256, size: entry.lfs_size ?? entry.size } } : {}),
    ...(entry.xet_hash ? { xetHash: entry.xet_hash } : {}),
  };
}

/** The commit `revision` is on the hub (no call for a commit hash). */
export async function hubCommit(client: HubClient, revision: string): Promise<string> {
  if (COMMIT_HASH.test(revision)) return revision;
  const commit = await client.commitOf(revision);
  if (!COMMIT_HASH.test(commit))
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${client.endpoint}: revision ${revision} resolved to ${JSON.stringify(commit)}, not a commit hash`,
    );
  return commit;
}

/** The repo's files at `commit`: the cached listing, else the hub's (then cached as Python caches it). */
export async function repoListing(repo: RepoCache, client: HubClient, commit: string): Promise<RepoTreeFile[]> {
  const cached = readTreeListing(repo, commit);
  if (cached) return [...cached].map(([path, entry]) => fromTreeEntry(path, entry));
  const files = await client.listFiles(commit);
  for (const file of files) {
    const problem = repoFileProblem(file.path);
    if (problem)
      throw new AlignkitError(
        'ERR_INVALID_DATA',
        `${repo.id}@${commit}: the hub lists a file '${file.path}': ${problem}`,
      );
  }
  await writeTreeListing(repo, commit, new Map(files.map((f) => [f.path, treeEntry(f)])));
  return files;
}

/** The files to fetch: the caller's patterns, else a model's needs (modelFiles) or a dataset's every file. */
export function chosenFiles(
  repo: RepoCache,
  files: RepoTreeFile[],
  allowPatterns: string[] | undefined,
  where: string,
): RepoTreeFile[] {
  const paths = files.map((f) => f.path);
  const chosen = new Set(
    allowPatterns
      ? filterRepoFiles(paths, allowPatterns)
      : repo.repoType === 'model'
        ? modelFiles(paths, where)
        : paths,
  );
  return files.filter((f) => chosen.has(f.path));
}

/** snapshots/<commit>/<path> → the blob, relative (as _create_symlink); a copy where links are refused. */
async function linkSnapshotFile(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    await copyFile(blob, pointer);
  }
}

/** Whether the snapshot already has the file (a link into this cache's blobs, or a plain copy). */
function present(repo: RepoCache, pointer: string): boolean {
  return existsSync(pointer) && checkSnapshotEntry(repo, pointer);
}

/**
 * Fetches the chosen files of `repo` at `revision` into the cache and returns the snapshot folder. `commit` is
 * what the hub said the revision is (hubCommit).
 */
export async function downloadSnapshot(
  repo: RepoCache,
  client: HubClient,
  revision: string,
  commit: string,
  options: SnapshotDownloadOptions = {},
): Promise<string> {
  const log = options.log ?? (() => {});
  const where = `${repo.repoType} ${repo.id} (revision ${revision}, commit ${commit})`;
  const files = chosenFiles(repo, await repoListing(repo, client, commit), options.allowPatterns, where);
  if (revision !== commit && readRef(repo, revision) !== commit) await writeAtomic(refFile(repo, revision), commit);
  await mkdir(snapshotDir(repo, commit), { recursive: true });
  if (!existsSync(join(repo.cacheDir, 'CACHEDIR.TAG')))
    await writeFile(join(repo.cacheDir, 'CACHEDIR.TAG'), CACHEDIR_TAG).catch(() => {});

  const missing = files.filter((f) => !present(repo, snapshotFile(repo, commit, f.path)));
  const toFetch = missing.filter((f) => !existsSync(blobFile(repo, etagOf(f))));
  const totalBytes = toFetch.reduce((sum, f) => sum + (f.lfs?.size ?? f.size), 0);
  if (toFetch.length > 0)
    log(`hub: downloading ${toFetch.length} file(s), ${megabytes(totalBytes)}, of ${where} into ${repo.storage}`);
  const started = Date.now();
  let done = 0;
  let lastLine = started;
  for (const file of missing) {
    const blob = await downloadBlob(
      repo,
      client,
      commit,
      file,
      (onDisk) => {
        options.onProgress?.({ file: file.path, bytes: done + onDisk, totalBytes });
        const now = Date.now();
        if (now - lastLine >= (options.progressIntervalMs ?? 5000)) {
          lastLine = now;
          const rate = (done + onDisk) / Math.max((now - started) / 1000, 1e-3);
          log(
            `hub: ${repo.id}: ${megabytes(done + onDisk)} of ${megabytes(totalBytes)} (${Math.floor((100 * (done + onDisk)) / Math.max(totalBytes, 1))}%), ${megabytes(rate)}/s, ${file.path}`,
          );
        }
      },
      log,
    ).catch((err: unknown) => {
      if (err instanceof AlignkitError) throw err;
      throw new AlignkitError(
        'ERR_HUB',
        `${repo.id}: downloading ${file.path} at commit ${commit} failed (${hubFailure(err)}); ` +
          'the bytes fetched so far are kept, and the next run resumes from them',
        { cause: err },
      );
    });
    if (toFetch.includes(file)) done += file.lfs?.size ?? file.size;
    await linkSnapshotFile(blob, snapshotFile(repo, commit, file.path));
  }
  if (toFetch.length > 0)
    log(
      `hub: ${repo.id}: ${toFetch.length} file(s), ${megabytes(totalBytes)}, downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  return snapshotDir(repo, commit);
}

// The hub cache as huggingface_hub lays it out (file_download.py, _tree_cache.py, utils/_shared_blobs.py):
//
//   <HF_HUB_CACHE>/models--org--name/
//     refs/<revision>               the commit a branch or tag pointed at when last asked (refs/pr/1 nests)
//     snapshots/<commit>/<path>     relative symlinks to ../../blobs/<etag> (plain files where symlinks fail)
//     blobs/<etag>                  the bytes: etag = sha256 for LFS files, the git blob id otherwise; with the
//                                   cache-wide store, itself a link to <HF_HUB_CACHE>/blobs/<xx>/<xet hash>
//     trees/<commit>.json           the repo's file listing at that commit (tells a complete snapshot from a partial)
//     .no_exist/<commit>/<path>     empty marker: the hub said this file does not exist at that commit
//
// Everything read from there is checked: a ref must hold a commit hash, and a snapshot file may only lead to a
// blob of this cache, so a tampered cache cannot point a training run at other files.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { AlignkitError } from '../errors.js';
import {
  COMMIT_HASH,
  repoFileProblem,
  repoFolderName,
  revisionProblem,
  repoIdProblem,
  type RepoType,
} from './repo-id.js';

/** One repo's folder in one hub cache. */
export interface RepoCache {
  cacheDir: string;
  id: string;
  repoType: RepoType;
  /** <cacheDir>/models--org--name */
  storage: string;
}

export function repoCache(cacheDir: string, id: string, repoType: RepoType): RepoCache {
  const problem = repoIdProblem(id);
  if (problem) throw new AlignkitError('ERR_INVALID_ARG', `'${id}' is not a Hugging Face repo id: ${problem}`);
  return { cacheDir, id, repoType, storage: join(cacheDir, repoFolderName(id, repoType)) };
}

function checked(kind: 'revision' | 'file', value: string, problem: string | null): string {
  if (problem) throw new AlignkitError('ERR_INVALID_ARG', `${kind} '${value}': ${problem}`);
  return value;
}

export const refFile = (repo: RepoCache, revision: string) =>
  join(repo.storage, 'refs', ...checked('revision', revision, revisionProblem(revision)).split('/'));
export const snapshotDir = (repo: RepoCache, commit: string) =>
  join(repo.storage, 'snapshots', checked('revision', commit, revisionProblem(commit)));
export const snapshotFile = (repo: RepoCache, commit: string, path: string) =>
  join(snapshotDir(repo, commit), ...checked('file', path, repoFileProblem(path)).split('/'));
export const blobFile = (repo: RepoCache, etag: string) => join(repo.storage, 'blobs', etag);
export const treeFile = (repo: RepoCache, commit: string) => join(repo.storage, 'trees', `${commit}.json`);
export const noExistFile = (repo: RepoCache, commit: string, path: string) =>
  join(
    repo.storage,
    '.no_exist',
    checked('revision', commit, revisionProblem(commit)),
    ...checked('file', path, repoFileProblem(path)).split('/'),
  );

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();
export const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

/** The commit refs/<revision> holds, or null when there is no such ref. */
export function readRef(repo: RepoCache, revision: string): string | null {
  const path = refFile(repo, revision);
  if (!isFile(path)) return null;
  const commit = readFileSync(path, 'utf8');
  if (!COMMIT_HASH.test(commit)) {
    throw new AlignkitError(
      'ERR_INVALID_FILE',
      `${path}: a ref holds a 40-character commit hash, this one holds ${JSON.stringify(commit.slice(0, 60))}`,
    );
  }
  return commit;
}

/** The commit a revision names in this cache: itself when it is a commit hash, else what its ref holds. */
export function cachedCommit(repo: RepoCache, revision: string): string | null {
  return COMMIT_HASH.test(revision) ? revision : readRef(repo, revision);
}

/** Every ref of the cached repo with its commit (for messages). */
export function listRefs(repo: RepoCache): Map<string, string> {
  const refs = new Map<string, string>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of isDir(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (!entry.name.endsWith('.tmp'))
        refs.set(prefix + entry.name, readFileSync(join(dir, entry.name), 'utf8').slice(0, 40));
    }
  };
  walk(join(repo.storage, 'refs'), '');
  return refs;
}

/** The realpaths a snapshot file may lead to: the repo's blobs/ and the cache-wide shared store. */
function blobRoots(repo: RepoCache): string[] {
  return [join(repo.storage, 'blobs'), join(repo.cacheDir, 'blobs')]
    .filter(existsSync)
    .map((dir) => realpathSync(dir) + sep);
}

/**
 * Checks that `file` in a snapshot is a plain file or a link to a blob of this cache; throws otherwise. Returns
 * false for a dangling link (a missing file, not a threat).
 */
export function checkSnapshotEntry(repo: RepoCache, file: string): boolean {
  if (!lstatSync(file).isSymbolicLink()) return true;
  let target: string;
  try {
    target = realpathSync(file);
  } catch {
    return false;
  }
  if (!blobRoots(repo).some((root) => target.startsWith(root)) || !statSync(target).isFile()) {
    throw new AlignkitError(
      'ERR_INVALID_FILE',
      `${file} links to ${target}, which is not a blob of the Hugging Face cache ` +
        `${repo.cacheDir} (a snapshot file must lead to ${join(repo.storage, 'blobs')}/ or ${join(repo.cacheDir, 'blobs')}/): refusing to read it`,
    );
  }
  return true;
}

/**
 * The files of a snapshot folder (repo paths with `/`), each checked with {@link checkSnapshotEntry}; dangling
 * links are left out. The folder itself must be a real folder under the repo's snapshots/.
 */
export function snapshotFiles(repo: RepoCache, commit: string): string[] {
  const root = snapshotDir(repo, commit);
  if (
    lstatSync(root).isSymbolicLink() ||
    !realpathSync(root).startsWith(realpathSync(join(repo.storage, 'snapshots')) + sep)
  ) {
    throw new AlignkitError(
      'ERR_INVALID_FILE',
      `${root} is a link, not a snapshot folder of ${repo.storage}: refusing to read it`,
    );
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (checkSnapshotEntry(repo, path)) files.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return files.sort();
}

/** One file of a cached tree listing, under huggingface_hub's TreeCacheEntry names. */
export interface TreeEntry {
  size: number;
  blob_id: string;
  lfs_sha256?: string;
  lfs_size?: number;
  xet_hash?: string;
}

/** The repo's file listing at `commit` as trees/<commit>.json holds it, or null (none, unknown format, corrupt). */
export function readTreeListing(repo: RepoCache, commit: string): Map<string, TreeEntry> | null {
  const path = treeFile(repo, commit);
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      format_version?: unknown;
      files?: Record<string, TreeEntry>;
    };
    if (data.format_version !== 1 || typeof data.files !== 'object' || data.files === null) return null;
    const entries = new Map(Object.entries(data.files));
    for (const [file, entry] of entries) {
      if (repoFileProblem(file) || typeof entry.size !== 'number') return null;
      if (entry.xet_hash !== undefined && !/^[0-9a-f]{64}$/.test(entry.xet_hash)) return null;
    }
    return entries;
  } catch {
    return null;
  }
}

/** Python's json.dump(ensure_ascii=True): every character outside printable ASCII as \uXXXX. */
const asciiJson = (value: unknown) =>
  JSON.stringify(value, null, 1).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Writes trees/<commit>.json as huggingface_hub's write_tree_cache does (sorted paths, indent 1, atomic). */
export async function writeTreeListing(
  repo: RepoCache,
  commit: string,
  entries: Map<string, TreeEntry>,
): Promise<void> {
  // As write_tree_cache: a listing with a malformed Xet hash is not kept (readers would reject it anyway).
  if ([...entries.values()].some((e) => e.xet_hash !== undefined && !/^[0-9a-f]{64}$/.test(e.xet_hash))) return;
  const files: Record<string, TreeEntry> = {};
  for (const path of [...entries.keys()].sort(comparePython)) files[path] = entries.get(path)!;
  await writeAtomic(treeFile(repo, commit), asciiJson({ format_version: 1, files }));
}

/** Python's str ordering (by code point), which differs from JS's UTF-16 ordering beyond the BMP. */
function comparePython(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Writes `text` to `path` through a temporary file and a rename, so that readers never see half of it. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Returned by {@link tryToLoadFromCache} when the cache records that the file does not exist at that revision. */
export const CACHED_NO_EXIST: unique symbol = Symbol('CACHED_NO_EXIST');

/**
 * huggingface_hub's try_to_load_from_cache: the cached path of one file of a repo at a revision (default main),
 * CACHED_NO_EXIST when the hub said it has no such file, or null when the cache cannot tell. Never uses the network.
 */
export function tryToLoadFromCache(
  cacheDir: string,
  id: string,
  repoType: RepoType,
  filename: string,
  revision?: string | null,
): string | typeof CACHED_NO_EXIST | null {
  const repo = repoCache(cacheDir, id, repoType);
  checked('file', filename, repoFileProblem(filename));
  if (!isDir(repo.storage)) return null;
  // As Python: a ref resolves to its commit; any other revision is looked up as a snapshot name as it is.
  const commit =
    readRef(repo, revision ?? 'main') ?? checked('revision', revision ?? 'main', revisionProblem(revision ?? 'main'));
  if (isFile(noExistFile(repo, commit, filename))) return CACHED_NO_EXIST;
  const snapshots = join(repo.storage, 'snapshots');
  if (!isDir(snapshots) || !readdirSync(snapshots).includes(commit)) return null;
  const file = snapshotFile(repo, commit, filename);
  return existsSync(file) && statSync(file).isFile() && checkSnapshotEntry(repo, file) ? file : null;
}

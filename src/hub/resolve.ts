// Hub ids wherever a config names a model or a dataset, as transformers' from_pretrained and datasets'
// load_dataset take them: an existing local path is used as it is; anything else that is a valid repo id
// (`org/name`, `name`) resolves to its snapshot folder in the Hugging Face cache — what Python already downloaded
// is found there — after fetching what is missing with the official @huggingface/hub client (download.ts).
// Offline (HF_HUB_OFFLINE=1 & co.) the network is never touched; a hub out of reach falls back to the cache, as
// huggingface_hub does.
import { existsSync } from 'node:fs';
import { AlignkitError } from '../errors.js';
import { readTreeListing, repoCache, snapshotFiles, cachedCommit, type RepoCache } from './cache-layout.js';
import { cachedSnapshot } from './cached-snapshot.js';
import { downloadSnapshot, hubCommit, repoListing, type DownloadProgress } from './download.js';
import { createHubClient, hubErrorCode, hubFailure, isRevisionNotFound } from './hub-client.js';
import { hubCacheDir, isHubOffline, offlineSource } from './hub-env.js';
import { repoIdProblem, revisionProblem } from './repo-id.js';

export interface RepoRef {
  id: string;
  repoType: 'model' | 'dataset';
  /** Branch, tag or commit hash (transformers' `revision`, TRL's `model_revision`); default main. */
  revision?: string | null;
}

export interface ResolveRepoOptions {
  /** Progress and notes (default: stderr). */
  log?: (message: string) => void;
  /** Files to fetch (fnmatch, as snapshot_download's allow_patterns); default: what a model needs / a dataset's every file. */
  allowPatterns?: string[];
  onProgress?: (progress: DownloadProgress) => void;
  /** Milliseconds between progress lines in the log while downloading (default 5000). */
  progressIntervalMs?: number;
}

/** Whether `s` names a hub repo rather than an existing local path. */
export function isRepoId(s: string): boolean {
  return !existsSync(s) && repoIdProblem(s) === null;
}

function checkedRef(ref: RepoRef): { repo: RepoCache; revision: string } {
  const problem = repoIdProblem(ref.id);
  if (problem)
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${ref.id}: no such file or folder, and not a Hugging Face repo id (${problem})`,
    );
  const revision = ref.revision ?? 'main';
  const revProblem = revisionProblem(revision);
  if (revProblem) throw new AlignkitError('ERR_INVALID_ARG', `${ref.id}: revision '${revision}': ${revProblem}`);
  return { repo: repoCache(hubCacheDir(), ref.id, ref.repoType), revision };
}

/** Why the hub gave nothing to use, for messages: out of reach, or an answer (with a hint when it may be the token). */
function hubUnusable(endpoint: string, err: unknown): string {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number') return `cannot reach ${endpoint} (${hubFailure(err)})`;
  const code = hubErrorCode(err);
  const hint =
    status === 401 || status === 403 || code === 'RepoNotFound' || code === 'GatedRepo'
      ? ' (a private or gated repo needs a token with access: set HF_TOKEN, or run `hf auth login`)'
      : '';
  return `${endpoint} answered ${hubFailure(err)}${hint}`;
}

/** A local folder is returned as is; a hub id resolves to its snapshot folder in the HF cache (downloading what is missing unless offline). */
export async function resolveRepo(ref: RepoRef, options: ResolveRepoOptions = {}): Promise<string> {
  if (existsSync(ref.id)) return ref.id;
  const { repo, revision } = checkedRef(ref);
  const log = options.log ?? ((message: string) => console.error(message));
  if (isHubOffline(ref.repoType))
    return cachedSnapshot(repo, revision, options.allowPatterns, `${offlineSource(ref.repoType)} forbids the network`);

  const client = createHubClient(ref.id, ref.repoType);
  let commit: string;
  try {
    commit = await hubCommit(client, revision);
    await repoListing(repo, client, commit);
  } catch (err) {
    if (err instanceof AlignkitError) throw err;
    if (isRevisionNotFound(err))
      throw new AlignkitError(
        'ERR_NOT_FOUND',
        `${ref.repoType} ${ref.id}: the hub has no revision '${revision}' (${hubFailure(err)})`,
      );
    // As huggingface_hub: the hub could not be asked (network, timeout, server error, access) — use the cache.
    const reason = hubUnusable(client.endpoint, err);
    const dir = cachedSnapshot(repo, revision, options.allowPatterns, reason);
    log(`hub: ${reason}; using the cached snapshot ${dir}`);
    return dir;
  }
  const dir = await downloadSnapshot(repo, client, revision, commit, options);
  snapshotFiles(repo, commit); // every file of the folder handed on leads into this cache's blobs
  return dir;
}

/**
 * The snapshot folder of a hub repo from the cache alone — no network, nothing fetched — checked complete as
 * {@link resolveRepo} checks it offline. For code that must stay synchronous, once resolveRepo has fetched the repo.
 */
export function cachedRepoFolder(ref: RepoRef, allowPatterns?: string[]): string {
  const { repo, revision } = checkedRef(ref);
  return cachedSnapshot(repo, revision, allowPatterns, 'this lookup reads the cache only');
}

/** The repo's files at the revision as the cache knows them: its listing, else the snapshot's files. */
function cachedFiles(repo: RepoCache, revision: string, why: string): string[] {
  cachedSnapshot(repo, revision, [], why); // throws, naming what is missing, when there is no snapshot
  const commit = cachedCommit(repo, revision)!;
  const listing = readTreeListing(repo, commit);
  return listing ? [...listing.keys()] : snapshotFiles(repo, commit);
}

/**
 * Every file path of the repo at the revision: online the hub's listing (kept in the cache as trees/<commit>.json);
 * offline, or with the hub out of reach, the cached listing, else the files the cached snapshot holds. For
 * choosing files (a dataset's data_files) before {@link resolveRepo} fetches them with `allowPatterns`.
 */
export async function listRepoFiles(ref: RepoRef): Promise<string[]> {
  const { repo, revision } = checkedRef(ref);
  if (isHubOffline(ref.repoType))
    return cachedFiles(repo, revision, `${offlineSource(ref.repoType)} forbids the network`);
  const client = createHubClient(ref.id, ref.repoType);
  try {
    return (await repoListing(repo, client, await hubCommit(client, revision))).map((f) => f.path);
  } catch (err) {
    if (err instanceof AlignkitError) throw err;
    if (isRevisionNotFound(err))
      throw new AlignkitError(
        'ERR_NOT_FOUND',
        `${ref.repoType} ${ref.id}: the hub has no revision '${revision}' (${hubFailure(err)})`,
      );
    return cachedFiles(repo, revision, hubUnusable(client.endpoint, err));
  }
}

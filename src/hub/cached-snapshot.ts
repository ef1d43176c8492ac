// A repo at a revision from the hub cache alone (HF_HUB_OFFLINE, or the hub out of reach), as snapshot_download
// with local_files_only finds it: the revision's commit (itself, or refs/<revision>), its snapshots/<commit>/
// folder, and — where trees/<commit>.json lists the repo — every wanted file present, else an error that names
// the repo, the revision, the cache folder searched and the missing files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';
import {
  cachedCommit,
  isDir,
  listRefs,
  readTreeListing,
  snapshotDir,
  snapshotFiles,
  type RepoCache,
} from './cache-layout.js';
import { chosenFiles, fromTreeEntry } from './download.js';
import { hubCacheSource } from './hub-env.js';

/** How to fetch what is missing, for messages: the `hf` command a Python user knows. */
function fetchHint(repo: RepoCache, revision: string): string {
  return `hf download ${repo.id}${repo.repoType === 'dataset' ? ' --repo-type dataset' : ''}${revision === 'main' ? '' : ` --revision ${revision}`}`;
}

/**
 * What a snapshot without a cached listing visibly lacks. A model needs config.json (or a PEFT adapter's
 * adapter_config.json), safetensors weights, and every shard its index names; with patterns, each pattern that
 * names one file (no wildcard) must be there. Other gaps cannot be told without the listing.
 */
function visiblyMissing(
  repo: RepoCache,
  dir: string,
  present: Set<string>,
  allowPatterns: string[] | undefined,
): string[] {
  if (allowPatterns) return allowPatterns.filter((p) => !/[*?[]/.test(p) && !p.endsWith('/') && !present.has(p));
  if (repo.repoType !== 'model') return [];
  const missing: string[] = [];
  const adapter = present.has('adapter_config.json');
  if (!present.has('config.json') && !adapter) missing.push('config.json');
  for (const index of [...present].filter((p) => p.endsWith('.safetensors.index.json'))) {
    const map =
      (JSON.parse(readFileSync(join(dir, index), 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
    for (const shard of new Set(Object.values(map))) if (!present.has(shard)) missing.push(shard);
  }
  if (!adapter && ![...present].some((p) => p.endsWith('.safetensors'))) missing.push('*.safetensors (the weights)');
  return missing;
}

/**
 * The snapshot folder of `repo` at `revision` in the cache, checked complete; throws ERR_NOT_FOUND saying what
 * is missing, where it looked, `why` the network was not used, and how to fetch it.
 */
export function cachedSnapshot(
  repo: RepoCache,
  revision: string,
  allowPatterns: string[] | undefined,
  why: string,
): string {
  const where = `${repo.repoType} '${repo.id}' (revision ${revision})`;
  const missing = (what: string) =>
    new AlignkitError(
      'ERR_NOT_FOUND',
      `${what}. ${why}; run once with network access, or \`${fetchHint(repo, revision)}\`, to fetch it`,
    );
  if (!isDir(repo.storage)) {
    throw missing(
      `${where} is not in the Hugging Face cache: there is no ${repo.storage} (cache folder ${repo.cacheDir}, from ${hubCacheSource()})`,
    );
  }
  const commit = cachedCommit(repo, revision);
  if (!commit) {
    const refs = [...listRefs(repo)].map(([name, c]) => `${name} → ${c.slice(0, 7)}`).join(', ') || 'none';
    throw missing(
      `${where}: the cache knows no commit for revision '${revision}': there is no ${join(repo.storage, 'refs', revision)} (cached refs: ${refs})`,
    );
  }
  const dir = snapshotDir(repo, commit);
  if (!isDir(dir))
    throw missing(
      `${where}: revision '${revision}' is commit ${commit}, whose snapshot folder ${dir} is not in the cache`,
    );
  const present = new Set(snapshotFiles(repo, commit));
  const listing = readTreeListing(repo, commit);
  const lacking = listing
    ? chosenFiles(
        repo,
        [...listing].map(([path, entry]) => fromTreeEntry(path, entry)),
        allowPatterns,
        where,
      )
        .map((f) => f.path)
        .filter((p) => !present.has(p))
    : visiblyMissing(repo, dir, present, allowPatterns);
  if (lacking.length > 0) {
    const shown = lacking.slice(0, 5).join(', ') + (lacking.length > 5 ? `, … (${lacking.length - 5} more)` : '');
    throw missing(`${where}: the cached snapshot ${dir} lacks ${lacking.length} file(s): ${shown}`);
  }
  return dir;
}

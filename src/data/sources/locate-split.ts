// load_dataset's `path`, resolved as datasets.load.dataset_module_factory tries it: a packaged loader name
// (`json`, `parquet`... with data_files), a local folder (a dataset repo's layout: README configs or split
// conventions), or a hub dataset id, whose split is chosen on the hub's file listing (as datasets globs hf://)
// and whose chosen files alone are fetched into (or found in) the Hugging Face cache by src/hub. A local data
// file is read whole as its one `train` split, which datasets itself does not offer but a config may well mean.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { isRepoId, listRepoFiles, resolveRepo, type RepoRef } from '../../hub/resolve.js';
import { detectFormat } from '../readers/index.js';
import { readDatasetConfigs, type DatasetConfigs } from './dataset-card.js';
import { listFiles } from './glob.js';
import { PACKAGED_LOADERS, packagedSplitFiles, repoSplitFiles, type LoadArgs, type SplitFiles } from './split-files.js';

export interface DatasetRef extends LoadArgs {
  /** load_dataset's path: hub id, local folder or file, or packaged loader name. */
  path: string;
  /** The hub revision of a dataset id (null: main). */
  revision?: string | null;
}

export interface LocateOptions {
  log: (message: string) => void;
  /** What relative local paths are relative to (default: the working directory). */
  cwd?: string;
}

/** The card files a repo's configs are read from. */
const CARD_FILES = ['README.md', '.huggingface.yaml'];
const NO_CONFIGS: DatasetConfigs = { configs: new Map(), defaultName: null };

/** A repo path as an fnmatch pattern that matches it alone (snapshot_download's allow_patterns). */
const literalPattern = (path: string) => path.replace(/[*?[]/g, (c) => `[${c}]`);

const absolute = (dir: string, split: SplitFiles): SplitFiles => ({
  ...split,
  files: split.files.map((f) => ({ ...f, path: join(dir, f.path) })),
});

/** The split's data files from the hub (or the cache): the listing and card first, then only the split's files. */
async function hubSplit(ref: DatasetRef, where: string, log: LocateOptions['log']): Promise<SplitFiles> {
  const repo: RepoRef = { id: ref.path, repoType: 'dataset', revision: ref.revision ?? null };
  const files = await listRepoFiles(repo);
  const cardFiles = CARD_FILES.filter((file) => files.includes(file));
  const card =
    cardFiles.length > 0 ? readDatasetConfigs(await resolveRepo(repo, { log, allowPatterns: cardFiles })) : NO_CONFIGS;
  const split = repoSplitFiles({ files, card }, ref, where);
  const dir = await resolveRepo(repo, {
    log,
    allowPatterns: [...cardFiles, ...split.files.map((f) => literalPattern(f.path))],
  });
  return absolute(dir, split);
}

/** The data files of `ref`'s split (absolute paths), in datasets' order, each with its reader. */
export async function locateSplit(ref: DatasetRef, options: LocateOptions): Promise<SplitFiles> {
  const where = `${ref.path}${ref.name ? ` (config ${ref.name})` : ''}, split ${ref.split}`;
  const cwd = options.cwd ?? process.cwd();
  if (PACKAGED_LOADERS.has(ref.path)) return packagedSplitFiles(ref.path, ref, cwd, where);
  const local = resolve(cwd, ref.path);
  if (existsSync(local)) {
    if (statSync(local).isDirectory())
      return absolute(local, repoSplitFiles({ files: listFiles(local), card: readDatasetConfigs(local) }, ref, where));
    if (ref.split !== 'train')
      throw new AlignkitError('ERR_INVALID_DATA', `${where}: a single data file is one 'train' split`);
    return { files: [{ path: local, format: detectFormat(local) }], config: 'default' };
  }
  if (!isRepoId(ref.path))
    throw new AlignkitError('ERR_NOT_FOUND', `${where}: no such local file or folder, and not a hub dataset id`);
  return hubSplit(ref, where, options.log);
}

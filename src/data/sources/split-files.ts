// `datasets.load_dataset(path, name, split=..., data_dir=..., data_files=...)` up to the point of reading: which
// files, in which order, hold the split, for a dataset repo (a local folder, or a hub repo's file listing) or
// for a packaged loader (`json`, `parquet`, ...) over data_files. Follows LocalDatasetModuleFactory.get_module /
// HubDatasetModuleFactory.get_module, the builder's config choice (DatasetBuilder._create_builder_config) and
// BuilderConfig._resolve_data_files.
import { join, resolve } from 'node:path';
import { AlignkitError } from '../../errors.js';
import type { DatasetFormat } from '../readers/index.js';
import { defaultDataPatterns, sanitizePatterns, type SplitPatterns } from './data-patterns.js';
import type { DatasetConfigs } from './dataset-card.js';
import { ALLOWED_EXTENSIONS, filterToModule, inferModule, readerFormat } from './file-modules.js';
import { filesUnder, hasMagic, listFiles, matchFiles, resolveLocalPattern } from './glob.js';

export interface LoadArgs {
  /** The config name (load_dataset's `name`); null: the repo's default config. */
  name?: string | null;
  split: string;
  /** A folder inside the repo whose files are the data (load_dataset's `data_dir`). */
  dataDir?: string | null;
  /** load_dataset's `data_files`: a pattern, a list, a list of {split, path} or a mapping split → pattern(s). */
  dataFiles?: unknown;
}

export interface SplitFiles {
  /** The split's data files in the order datasets reads them (repo-relative for a repo), each with its reader. */
  files: { path: string; format: DatasetFormat }[];
  /** The builder config the split came from (`default` for a repo that declares none). */
  config: string;
}

/** A dataset repo: its files (relative, `/`-separated, sorted) and its card's configs. */
export interface RepoTree {
  files: readonly string[];
  card: DatasetConfigs;
}

const dataError = (where: string, message: string) => new AlignkitError('ERR_INVALID_DATA', `${where}: ${message}`);

/** The names datasets takes as load_dataset's `path` for its packaged loaders. */
export const PACKAGED_LOADERS = new Set([
  'json',
  'parquet',
  'csv',
  'arrow',
  'text',
  'xml',
  'webdataset',
  'imagefolder',
  'audiofolder',
  'videofolder',
]);

const joinRel = (folder: string | null | undefined, rel: string) =>
  folder ? `${folder.replace(/\/+$/, '')}/${rel}` : rel;

/**
 * DataFilesList.from_patterns over a repo folder `folder` (relative; '' for the root): every pattern's matches
 * in turn, repo-relative; a pattern without wildcards must match.
 */
function resolvePatterns(
  tree: RepoTree,
  folder: string | null,
  patterns: SplitPatterns,
  allowed: ReadonlySet<string> | undefined,
  where: string,
): Map<string, string[]> {
  const files = filesUnder(tree.files, folder);
  const out = new Map<string, string[]>();
  for (const [split, list] of patterns) {
    const found: string[] = [];
    for (const pattern of list) {
      const matches = matchFiles(files, pattern, allowed);
      if (matches.length === 0 && !hasMagic(pattern))
        throw new AlignkitError('ERR_NOT_FOUND', `${where}: data file '${joinRel(folder, pattern)}' not found`);
      found.push(...matches.map((rel) => joinRel(folder, rel)));
    }
    out.set(split, found);
  }
  return out;
}

/**
 * infer_module_for_data_files: one loader for every split, or an error; null when no split has a file. Splits
 * without files are passed over (datasets errors on those; they come up here only for a config that lists a
 * split it has no files for).
 */
function inferModuleOfSplits(files: Map<string, string[]>, where: string): string | null {
  const modules = new Map(
    [...files].filter(([, list]) => list.length > 0).map(([split, list]) => [split, inferModule(list)]),
  );
  const first = modules.values().next().value ?? null;
  if ([...modules.values()].some((module) => module !== first)) {
    throw dataError(
      where,
      `the splits' data files are of different formats (${[...modules].map(([s, m]) => `${s}: ${m}`).join(', ')})`,
    );
  }
  return first;
}

function pickSplit(
  files: Map<string, string[]>,
  module: string | null,
  config: string,
  split: string,
  where: string,
): SplitFiles {
  if (!module) throw new AlignkitError('ERR_NOT_FOUND', `${where}: no supported data files found`);
  const list = files.get(split);
  if (!list && /[[+]/.test(split)) {
    throw dataError(
      where,
      `split '${split}': datasets' split slicing and joining (train[:10%], train+test) is not supported; name one split, and subsample with a mixture's weight or fraction`,
    );
  }
  if (!list)
    throw dataError(
      where,
      `unknown split '${split}'${config !== 'default' ? ` in config '${config}'` : ''}; the splits are ${[...files.keys()].join(', ')}`,
    );
  if (list.length === 0) throw new AlignkitError('ERR_NOT_FOUND', `${where}: split '${split}' has no data files`);
  return { files: list.map((path) => ({ path, format: readerFormat(path, module, where) })), config };
}

/** The files of one split of a dataset repo, as load_dataset(repo, name, split=...) reads them; paths repo-relative. */
export function repoSplitFiles(tree: RepoTree, args: LoadArgs, where: string): SplitFiles {
  const { configs, defaultName } = tree.card;
  const dataDir = args.dataDir ?? null;
  const firstConfig = configs.values().next().value;

  // The loader comes from the caller's data_files, else the first config's, else the default split patterns.
  const modulePatterns =
    args.dataFiles != null
      ? sanitizePatterns(args.dataFiles, where)
      : firstConfig && !dataDir && firstConfig.data_files != null
        ? sanitizePatterns(firstConfig.data_files, `${where} (README.md)`)
        : defaultDataPatterns(filesUnder(tree.files, dataDir), where);
  const moduleFiles = resolvePatterns(tree, dataDir, modulePatterns, ALLOWED_EXTENSIONS, where);
  const module = inferModuleOfSplits(moduleFiles, where);
  const filtered = module
    ? new Map([...moduleFiles].map(([split, list]) => [split, filterToModule(list, module)]))
    : moduleFiles;

  // A data_dir or data_files of the caller replaces the chosen config's files (datasets' config kwargs).
  const callerFiles = dataDir
    ? filtered
    : args.dataFiles != null
      ? resolvePatterns(tree, null, sanitizePatterns(args.dataFiles, where), undefined, where)
      : null;

  if (configs.size === 0) {
    if (args.name != null && args.name !== 'default') {
      throw dataError(
        where,
        `config '${args.name}' not found: the dataset declares no configs (its only one is 'default')`,
      );
    }
    return pickSplit(callerFiles ?? filtered, module, 'default', args.split, where);
  }
  const name = args.name ?? defaultName;
  if (name === null) {
    if (callerFiles) return pickSplit(callerFiles, module, 'default', args.split, where);
    throw dataError(
      where,
      `config name is missing: pick one of ${[...configs.keys()].join(', ')} (dataset_config, or config in a mixture)`,
    );
  }
  const params = configs.get(name);
  if (!params) throw dataError(where, `config '${name}' not found; the configs are ${[...configs.keys()].join(', ')}`);
  if (callerFiles) return pickSplit(callerFiles, module, name, args.split, where);
  const configDir = typeof params.data_dir === 'string' && params.data_dir ? params.data_dir : null;
  const patterns =
    params.data_files != null
      ? sanitizePatterns(params.data_files, `${where} (README.md config '${name}')`)
      : defaultDataPatterns(filesUnder(tree.files, configDir), where);
  return pickSplit(
    resolvePatterns(tree, configDir, patterns, ALLOWED_EXTENSIONS, where),
    module,
    name,
    args.split,
    where,
  );
}

/** load_dataset('json' | 'parquet' | ..., data_files=..., split=...): the caller's files (absolute), relative to `cwd` (or data_dir). */
export function packagedSplitFiles(module: string, args: LoadArgs, cwd: string, where: string): SplitFiles {
  const baseDir = resolve(cwd, args.dataDir ?? '');
  if (args.dataFiles == null) {
    // data_dir alone: its files by the default split patterns.
    const tree: RepoTree = { files: listFiles(baseDir), card: { configs: new Map(), defaultName: null } };
    const files = resolvePatterns(tree, null, defaultDataPatterns(tree.files, where), undefined, where);
    const absolute = new Map([...files].map(([split, list]) => [split, list.map((rel) => join(baseDir, rel))]));
    return pickSplit(absolute, module, args.name ?? 'default', args.split, where);
  }
  const files = new Map<string, string[]>();
  for (const [split, patterns] of sanitizePatterns(args.dataFiles, where)) {
    files.set(
      split,
      patterns.flatMap((pattern) => {
        const found = resolveLocalPattern(baseDir, pattern);
        if (found.length === 0 && !hasMagic(pattern))
          throw new AlignkitError('ERR_NOT_FOUND', `${where}: data file '${pattern}' not found in ${baseDir}`);
        return found;
      }),
    );
  }
  return pickSplit(files, module, args.name ?? 'default', args.split, where);
}

// Which files hold which split when a dataset repo does not say (datasets/data_files.py: get_data_patterns):
// first `data/<split>-00000-of-00001.*` shards, then folders named after a split, then file names holding a
// split keyword, else every file is `train`. Also `sanitize_patterns`, the shapes a `data_files` value may take.
import { basename } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { matchFiles } from './glob.js';

/** Split name → glob patterns, in the order datasets lists the splits. */
export type SplitPatterns = Map<string, string[]>;

const SPLIT_PATTERN_SHARDED = 'data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*';
const SPLIT_KEYWORDS: ReadonlyArray<[string, string[]]> = [
  ['train', ['train', 'training']],
  ['validation', ['validation', 'valid', 'dev', 'val']],
  ['test', ['test', 'testing', 'eval', 'evaluation']],
];
const DEFAULT_SPLITS = SPLIT_KEYWORDS.map(([split]) => split);
const SEP = '-._ 0-9';
// The fsspec >= 2023.12 spellings (datasets picks them by the installed fsspec; the current one is this).
const IN_FILENAME = ['**/{keyword}[{sep}]*', '**/*[{sep}]{keyword}[{sep}]*'];
const IN_DIR_NAME = [
  '**/{keyword}/**',
  '**/{keyword}[{sep}]*/**',
  '**/*[{sep}]{keyword}/**',
  '**/*[{sep}]{keyword}[{sep}]*/**',
];

const keywordPatterns = (bases: string[]): SplitPatterns =>
  new Map(
    SPLIT_KEYWORDS.map(([split, keywords]) => [
      split,
      keywords.flatMap((keyword) =>
        bases.map((base) => base.replaceAll('{keyword}', keyword).replaceAll('{sep}', SEP)),
      ),
    ]),
  );

/** datasets' ALL_DEFAULT_PATTERNS, tried in this order; the first with any file wins. */
const ALL_DEFAULT_PATTERNS: SplitPatterns[] = [
  new Map([['logs', ['**/*.eval']]]),
  keywordPatterns(IN_DIR_NAME),
  keywordPatterns(IN_FILENAME),
  new Map([['train', ['**']]]),
];

/** datasets.naming._split_re: a split is word characters, optionally dotted (`test.v2`). */
export const SPLIT_NAME = /^[\p{L}\p{N}\p{M}_]+(\.[\p{L}\p{N}\p{M}_]+)*$/u;

/**
 * The split → patterns `datasets` infers for a folder without `data_files` (get_data_patterns), from its files
 * (relative paths). Files are matched as datasets' pattern resolver does it with no extension filter (any file
 * but README.md and friends).
 */
export function defaultDataPatterns(files: readonly string[], where: string): SplitPatterns {
  // Sharded split files name their split: data/<split>-00000-of-00003.parquet.
  const sharded = matchFiles(files, SPLIT_PATTERN_SHARDED.replace('{split}', '*'));
  if (sharded.length > 0) {
    const nameRegex = /(.+)-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*/;
    const splits = new Set(sharded.map((file) => nameRegex.exec(basename(file))![1]!));
    for (const split of splits) {
      if (!SPLIT_NAME.test(split)) {
        throw new AlignkitError(
          'ERR_INVALID_DATA',
          `${where}: split name '${split}' (from its data/ shard names) is not a valid split name`,
        );
      }
    }
    const ordered = [
      ...DEFAULT_SPLITS.filter((s) => splits.has(s)),
      ...[...splits].filter((s) => !DEFAULT_SPLITS.includes(s)).sort(),
    ];
    return new Map(ordered.map((split) => [split, [SPLIT_PATTERN_SHARDED.replace('{split}', split)]]));
  }
  for (const patterns of ALL_DEFAULT_PATTERNS) {
    const found = [...patterns].filter(([, list]) => list.some((pattern) => matchFiles(files, pattern).length > 0));
    if (found.length > 0) return new Map(found);
  }
  throw new AlignkitError('ERR_NOT_FOUND', `${where}: holds no data files`);
}

/**
 * datasets' sanitize_patterns: a `data_files` value (a pattern, a list of patterns, a list of {split, path},
 * or a mapping split → pattern(s)) as split → patterns; a bare pattern or list is the `train` split.
 */
export function sanitizePatterns(value: unknown, where: string): SplitPatterns {
  const bad = () =>
    new AlignkitError(
      'ERR_INVALID_DATA',
      `${where}: data_files must be a pattern, a list of patterns, a list of {split, path} or a mapping split → pattern(s); got ${JSON.stringify(value)}`,
    );
  const asList = (v: unknown): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((item) => typeof item === 'string')) throw bad();
    return list as string[];
  };
  if (typeof value === 'string') return new Map([['train', [value]]]);
  if (Array.isArray(value)) {
    if (!value.some((item) => typeof item === 'object' && item !== null)) return new Map([['train', asList(value)]]);
    const out: SplitPatterns = new Map();
    for (const item of value) {
      const entry = item as Record<string, unknown>;
      if (
        typeof item !== 'object' ||
        item === null ||
        Object.keys(entry).length !== 2 ||
        typeof entry.split !== 'string' ||
        !('path' in entry)
      )
        throw bad();
      if (!SPLIT_NAME.test(entry.split))
        throw new AlignkitError('ERR_INVALID_DATA', `${where}: '${entry.split}' is not a valid split name`);
      if (out.has(entry.split))
        throw new AlignkitError('ERR_INVALID_DATA', `${where}: split '${entry.split}' is listed twice in data_files`);
      out.set(entry.split, asList(entry.path));
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    return new Map(Object.entries(value).map(([split, patterns]) => [split, asList(patterns)]));
  }
  throw bad();
}

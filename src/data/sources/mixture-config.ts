// The two spellings of a dataset mixture, checked and read into one shape:
// - the alignment-handbook's `dataset_mixture: {datasets: [{id, config, split, columns, weight}], seed, test_split_size}`
//   (handbook src/alignment/configs.py: ScriptArguments.__post_init__; weight defaults to 1.0, seed to 0);
// - TRL 1.13's top-level `datasets: [{path, name, data_dir, data_files, split, columns, fraction}]` with
//   `test_split_size` beside it (trl/scripts/utils.py: DatasetMixtureConfig, DatasetConfig).
// Each keeps its own semantics (mixture-rows.ts); an entry in the other spelling is refused with a hint.
import { AlignkitError } from '../../errors.js';

export interface MixtureSource {
  /** Hub id, local folder or packaged loader name (handbook `id`, TRL `path`). */
  path: string;
  /** Config name (handbook `config`, TRL `name`). */
  name: string | null;
  split: string;
  dataDir: string | null;
  dataFiles: unknown;
  /** select_columns before mixing; null keeps every column. */
  columns: string[] | null;
  /** Handbook: keep int(len × weight) rows of a shuffle(seed); null keeps all rows unshuffled. */
  weight: number | null;
  /** TRL: the target share of the mixture (first rows kept); null for all or none. */
  fraction: number | null;
}

export interface MixtureSpec {
  /** Whose semantics the mixture follows, and the config key it came from. */
  style: 'handbook' | 'trl';
  key: 'dataset_mixture' | 'datasets';
  sources: MixtureSource[];
  /** The seed of every shuffle and of the train/test split (handbook: dataset_mixture.seed; TRL: see below). */
  seed: number;
  /** datasets' train_test_split test_size: a fraction in (0, 1) or a row count; null: no test split. */
  testSplitSize: number | null;
}

const mixtureError = (key: string, message: string) => new AlignkitError('ERR_INVALID_CONFIG', `${key}: ${message}`);

const HANDBOOK_KEYS = ['id', 'config', 'split', 'columns', 'weight'];
const TRL_KEYS = ['path', 'name', 'data_dir', 'data_files', 'split', 'columns', 'fraction'];
const OTHER_SPELLING: Record<string, string> = {
  path: 'id',
  name: 'config',
  fraction: 'weight',
  id: 'path',
  config: 'name',
  weight: 'fraction',
};

function entryOf(raw: unknown, where: string, allowed: string[], style: 'handbook' | 'trl'): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw mixtureError(where, `must be a mapping, got ${JSON.stringify(raw)}`);
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (allowed.includes(key)) continue;
    const other = OTHER_SPELLING[key];
    const hint =
      other && allowed.includes(other)
        ? ` ('${key}' is the ${style === 'handbook' ? 'TRL' : 'alignment-handbook'} spelling, written under ${style === 'handbook' ? "a top-level 'datasets:'" : "'dataset_mixture: datasets:'"}; here it is '${other}')`
        : '';
    throw mixtureError(
      where,
      `unknown key '${key}'; a ${style === 'handbook' ? 'dataset_mixture' : 'datasets'} entry takes ${allowed.join(', ')}${hint}`,
    );
  }
  return entry;
}

const optionalString = (value: unknown, where: string): string | null => {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw mixtureError(where, `must be a string, got ${JSON.stringify(value)}`);
  return value;
};

const requiredString = (value: unknown, where: string): string => {
  const text = optionalString(value, where);
  if (text === null || text === '') throw mixtureError(where, 'is required');
  return text;
};

const optionalNumber = (value: unknown, where: string): number | null => {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw mixtureError(where, `must be a number, got ${JSON.stringify(value)}`);
  return value;
};

const columnsOf = (value: unknown, where: string): string[] | null => {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((c) => typeof c === 'string'))
    throw mixtureError(where, `must be a list of column names, got ${JSON.stringify(value)}`);
  return value as string[];
};

/** datasets' train_test_split test_size: a fraction strictly between 0 and 1, or a whole number of rows ≥ 1. */
export function checkTestSize(value: unknown, where: string): number | null {
  const size = optionalNumber(value, where);
  if (size === null) return null;
  if (!(size > 0 && size < 1) && !(Number.isInteger(size) && size >= 1)) {
    throw mixtureError(where, `must be a fraction in (0, 1) or a whole number of test rows, got ${size}`);
  }
  return size;
}

function handbookMixture(raw: unknown): MixtureSpec {
  const key = 'dataset_mixture';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('datasets' in raw)) {
    throw mixtureError(
      key,
      "must be a mapping with a 'datasets' list: {datasets: [{id, config, split, columns, weight}], seed, test_split_size}",
    );
  }
  const mixture = raw as Record<string, unknown>;
  for (const name of Object.keys(mixture)) {
    if (!['datasets', 'seed', 'test_split_size'].includes(name))
      throw mixtureError(key, `unknown key '${name}'; dataset_mixture takes datasets, seed, test_split_size`);
  }
  if (!Array.isArray(mixture.datasets))
    throw mixtureError(`${key}.datasets`, 'must be a list of dataset configurations');
  const sources = mixture.datasets.map((item, i): MixtureSource => {
    const where = `${key}.datasets[${i}]`;
    const entry = entryOf(item, where, HANDBOOK_KEYS, 'handbook');
    return {
      path: requiredString(entry.id, `${where}.id`),
      name: optionalString(entry.config, `${where}.config`),
      split: optionalString(entry.split, `${where}.split`) ?? 'train',
      dataDir: null,
      dataFiles: null,
      columns: columnsOf(entry.columns, `${where}.columns`),
      // dataset_config.get("weight", 1.0): a missing weight is 1.0 (shuffled, all rows); an explicit null is none.
      weight: 'weight' in entry ? optionalNumber(entry.weight, `${where}.weight`) : 1.0,
      fraction: null,
    };
  });
  // The handbook refuses mixtures whose column lists differ.
  const columnSets = sources.filter((s) => s.columns).map((s) => [...new Set(s.columns)].sort().join('\0'));
  if (columnSets.some((set) => set !== columnSets[0])) {
    throw mixtureError(
      key,
      `column names must be the same in every dataset of a mixture, got ${JSON.stringify(sources.map((s) => s.columns))}`,
    );
  }
  const seed = mixture.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)
    throw mixtureError(`${key}.seed`, `must be a non-negative integer, got ${JSON.stringify(seed)}`);
  return {
    style: 'handbook',
    key,
    sources,
    seed,
    testSplitSize: checkTestSize(mixture.test_split_size, `${key}.test_split_size`),
  };
}

function trlMixture(raw: unknown, testSplitSize: number | null, seed: number): MixtureSpec {
  const key = 'datasets';
  if (!Array.isArray(raw))
    throw mixtureError(
      key,
      'must be a list of dataset configurations {path, name, data_dir, data_files, split, columns, fraction}',
    );
  const sources = raw.map((item, i): MixtureSource => {
    const where = `${key}[${i}]`;
    const entry = entryOf(item, where, TRL_KEYS, 'trl');
    return {
      path: requiredString(entry.path, `${where}.path`),
      name: optionalString(entry.name, `${where}.name`),
      split: optionalString(entry.split, `${where}.split`) ?? 'train',
      dataDir: optionalString(entry.data_dir, `${where}.data_dir`),
      dataFiles: entry.data_files ?? null,
      columns: columnsOf(entry.columns, `${where}.columns`),
      weight: null,
      fraction: optionalNumber(entry.fraction, `${where}.fraction`),
    };
  });
  const withFraction = sources.filter((s) => s.fraction !== null).length;
  if (withFraction > 0 && withFraction < sources.length)
    throw mixtureError(key, '`fraction` must be set for either all datasets in the mixture or none of them');
  return { style: 'trl', key, sources, seed, testSplitSize: checkTestSize(testSplitSize, 'test_split_size') };
}

/** The keys of a config that describe a mixture. `seed` is the training seed, which TRL's split draws with here. */
export interface MixtureKeys {
  dataset_mixture: Record<string, unknown> | null;
  datasets: unknown;
  test_split_size: number | null;
  seed: number;
}

/**
 * The config's mixture, or null when it has none. Both spellings at once are refused. TRL's empty `datasets: []`
 * (its default) is no mixture, as in TRL.
 */
export function mixtureSpec(config: MixtureKeys): MixtureSpec | null {
  const trl =
    config.datasets !== null &&
    config.datasets !== undefined &&
    !(Array.isArray(config.datasets) && config.datasets.length === 0);
  if (config.dataset_mixture && trl) {
    throw mixtureError(
      'dataset_mixture',
      "and 'datasets' both describe a mixture (the alignment-handbook's and TRL's spellings); keep one",
    );
  }
  if (config.dataset_mixture) {
    if (config.test_split_size !== null)
      throw mixtureError(
        'test_split_size',
        "is the TRL mixture's key; with dataset_mixture write it inside: dataset_mixture.test_split_size",
      );
    return handbookMixture(config.dataset_mixture);
  }
  if (trl) return trlMixture(config.datasets, config.test_split_size, config.seed);
  return null;
}

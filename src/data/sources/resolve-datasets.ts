// Turns the ways a TRL or alignment-handbook recipe names its data into the local files the trainers read
// (train_dataset / eval_dataset), before any work:
// - a mixture (handbook `dataset_mixture`, or TRL's top-level `datasets` + `test_split_size`): its train/test rows,
//   drawn as datasets does, written once under output_dir/datasets/;
// - `dataset_name` (+ `dataset_config`): its `dataset_train_split`, and `dataset_test_split` when eval_strategy is
//   not `no`, as TRL's scripts pass dataset[split] to the trainer;
// - a hub dataset id (or a local dataset repo folder) as train_dataset / eval_dataset: those same splits of it.
// A split held in one data file is read in place; any other is written out as JSON Lines (materialize.ts).
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { isRepoId } from '../../hub/resolve.js';
import { detectFormat } from '../readers/index.js';
import { isSavedDataset } from '../readers/save-to-disk.js';
import { locateSplit, type DatasetRef } from './locate-split.js';
import { materialize, type SourceSplit } from './materialize.js';
import { resolveHandbookMixer, type HandbookMixerKeys } from './handbook-mixer.js';
import { mixtureSpec, type MixtureKeys, type MixtureSpec } from './mixture-config.js';
import { mixtureRows, rowRange } from './mixture-rows.js';

/** The config keys this step reads (every trainer's config has them). */
export interface DatasetKeys extends MixtureKeys {
  train_dataset: string | null;
  eval_dataset: string | null;
  dataset_name: string | null;
  dataset_config: string | null;
  dataset_train_split: string;
  dataset_test_split: string;
  eval_strategy: string;
  output_dir: string | null;
  skip_invalid_rows: boolean;
}

type Log = (message: string) => void;

/** A local folder laid out as a dataset repo (a git clone or a copied snapshot), read with datasets' split rules. */
function isRepoFolder(path: string): boolean {
  if (!statSync(path).isDirectory() || isSavedDataset(path)) return false;
  return (
    ['README.md', '.huggingface.yaml', '.gitattributes'].some((name) => existsSync(join(path, name))) ||
    (existsSync(join(path, 'data')) && statSync(join(path, 'data')).isDirectory())
  );
}

/**
 * Whether train_dataset / eval_dataset names something datasets' rules read: a repo folder, or a hub id. A missing
 * path with a data file's extension (`data/train.jsonl`) is a missing file, not an id.
 */
function isDatasetRepo(value: string): boolean {
  const local = resolve(value);
  if (existsSync(local)) return isRepoFolder(local);
  return isRepoId(value) && !DATA_FILE_EXTENSION.test(value);
}

const DATA_FILE_EXTENSION = /\.(jsonl|ndjson|json|parquet|csv|tsv|arrow|arrows|ipc|feather|txt)(\.(gz|bz2|xz|zst))?$/i;

function datasetsDir(config: DatasetKeys): string {
  if (!config.output_dir)
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      "'output_dir' is required (the resolved dataset rows are written under it)",
    );
  return join(config.output_dir, 'datasets');
}

/** One split of a dataset as a file the readers take: its one data file in place, else its rows written out. */
async function splitPath(ref: DatasetRef, role: 'train' | 'eval', config: DatasetKeys, log: Log): Promise<string> {
  const { files, config: configName } = await locateSplit(ref, { log });
  const only = files.length === 1 ? files[0]! : null;
  if (only && formatOrNull(only.path) === only.format) {
    log(`datasets: ${role} rows: ${ref.path} (config ${configName}) split ${ref.split}: ${only.path}`);
    return only.path;
  }
  const source: SourceSplit = { label: `${ref.path} split ${ref.split}`, files, columns: null };
  const written = await materialize(
    [source],
    [role],
    (counts) => ({ [role]: rowRange(counts[0]!) }) as Record<typeof role, Uint32Array>,
    {
      dir: datasetsDir(config),
      recipe: { kind: 'split', role, path: ref.path, name: ref.name ?? null, split: ref.split },
      skipInvalidRows: config.skip_invalid_rows,
      log,
    },
  );
  return written[role]!;
}

function formatOrNull(path: string): string | null {
  try {
    return detectFormat(path);
  } catch {
    return null;
  }
}

function describeMixture(spec: MixtureSpec): string {
  return spec.style === 'handbook'
    ? `dataset_mixture (alignment-handbook: each dataset shuffled with seed ${spec.seed} and cut to int(rows × weight), concatenated, shuffled again${spec.testSplitSize !== null ? ', split' : ''})`
    : `datasets (TRL: ${spec.sources.some((s) => s.fraction !== null) ? 'the first rows of each by fraction, ' : ''}concatenated in order${spec.testSplitSize !== null ? ', split' : ''})`;
}

/** A mixture's train (and, when evaluated, test) rows, written out; returns the files for dataset_train_split / dataset_test_split. */
async function mixturePaths(
  spec: MixtureSpec,
  evaluate: boolean,
  config: DatasetKeys,
  log: Log,
): Promise<{ train: string; test: string | null }> {
  if (config.dataset_train_split !== 'train') {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `dataset_train_split: '${config.dataset_train_split}' is not a split of the mixture (${spec.key}); its splits are train${spec.testSplitSize !== null ? ' and test' : ''}`,
    );
  }
  if (evaluate && (spec.testSplitSize === null || config.dataset_test_split !== 'test')) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      spec.testSplitSize === null
        ? `eval_strategy '${config.eval_strategy}' evaluates on the mixture's test split, which it has only with test_split_size (or set eval_dataset)`
        : `dataset_test_split: '${config.dataset_test_split}' is not a split of the mixture (${spec.key}); its splits are train and test`,
    );
  }
  if (spec.style === 'trl' && spec.testSplitSize !== null) {
    log(
      `note: test_split_size: TRL's get_dataset splits without a seed (a different split each run); alignkit draws it with seed ${spec.seed}`,
    );
  }
  const sources: SourceSplit[] = [];
  for (const [k, source] of spec.sources.entries()) {
    const { files } = await locateSplit(source, { log });
    sources.push({ label: `${spec.key}[${k}] ${source.path} split ${source.split}`, files, columns: source.columns });
  }
  const outputs = evaluate ? (['train', 'test'] as const) : (['train'] as const);
  log(`datasets: ${describeMixture(spec)}`);
  const written = await materialize(
    sources,
    outputs,
    (counts) => {
      const rows = mixtureRows(spec, counts);
      return { train: rows.train, test: evaluate ? rows.test : null };
    },
    {
      dir: datasetsDir(config),
      recipe: { kind: 'mixture', spec },
      skipInvalidRows: config.skip_invalid_rows,
      log,
    },
  );
  return { train: written.train!, test: evaluate ? (written as Record<'test', string | null>).test : null };
}

/**
 * `config` with train_dataset / eval_dataset set to local files for whatever names its data: a mixture,
 * dataset_name, or a hub id / dataset repo folder in train_dataset / eval_dataset. A config of local files is
 * returned unchanged.
 */
export async function resolveDatasets<C extends DatasetKeys>(config: C, log: Log): Promise<C> {
  const evaluate = config.eval_strategy !== 'no';
  // The old alignment-handbook's dataset_mixer (trainer orpo's schema has it): its own mixing and rendering.
  const mixer = config as Partial<HandbookMixerKeys>;
  if (mixer.dataset_mixer) {
    const other = [
      config.train_dataset && 'train_dataset',
      config.dataset_name && 'dataset_name',
      mixtureSpec(config)?.key,
    ]
      .filter(Boolean)
      .join(', ');
    if (other)
      throw new AlignkitError('ERR_INVALID_CONFIG', `dataset_mixer and ${other} both name the training rows; keep one`);
    const wantTest = evaluate && !config.eval_dataset;
    const paths = await resolveHandbookMixer(config as C & HandbookMixerKeys, wantTest, log);
    return { ...config, train_dataset: paths.train, eval_dataset: wantTest ? paths.test : config.eval_dataset };
  }
  const spec = mixtureSpec(config);
  if (spec) {
    if (config.train_dataset)
      throw new AlignkitError(
        'ERR_INVALID_CONFIG',
        `train_dataset and ${spec.key} both name the training rows; keep one`,
      );
    if (config.dataset_name)
      log(
        `note: dataset_name '${config.dataset_name}' is ignored: ${spec.key} gives the rows (as TRL and the alignment-handbook do)`,
      );
    const wantTest = evaluate && !config.eval_dataset;
    if (evaluate && config.eval_dataset)
      log(`note: eval_dataset ${config.eval_dataset} is evaluated on, not the mixture's test split`);
    const paths = await mixturePaths(spec, wantTest, config, log);
    return { ...config, train_dataset: paths.train, eval_dataset: wantTest ? paths.test : config.eval_dataset };
  }
  if (config.test_split_size !== null)
    log('note: test_split_size has no effect without a TRL mixture (datasets: [...]), as in TRL');

  const resolved = { ...config };
  if (config.dataset_name) {
    if (config.train_dataset)
      throw new AlignkitError(
        'ERR_INVALID_CONFIG',
        'train_dataset and dataset_name both name the training rows; keep one',
      );
    const ref = { path: config.dataset_name, name: config.dataset_config };
    resolved.train_dataset = await splitPath({ ...ref, split: config.dataset_train_split }, 'train', config, log);
    if (evaluate && !config.eval_dataset)
      resolved.eval_dataset = await splitPath({ ...ref, split: config.dataset_test_split }, 'eval', config, log);
    return resolved;
  }
  if (config.train_dataset && isDatasetRepo(config.train_dataset)) {
    resolved.train_dataset = await splitPath(
      { path: config.train_dataset, name: config.dataset_config, split: config.dataset_train_split },
      'train',
      config,
      log,
    );
  }
  if (config.eval_dataset && isDatasetRepo(config.eval_dataset)) {
    resolved.eval_dataset = await splitPath(
      { path: config.eval_dataset, name: config.dataset_config, split: config.dataset_test_split },
      'eval',
      config,
      log,
    );
  }
  return resolved;
}

// A config holding just the keys src/data/sources/resolve-datasets.ts reads, at TRL's defaults, with a fresh output_dir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetKeys } from '../../../src/data/sources/resolve-datasets.js';

export function datasetConfig(overrides: Partial<DatasetKeys>): DatasetKeys {
  return {
    train_dataset: null,
    eval_dataset: null,
    dataset_name: null,
    dataset_config: null,
    dataset_train_split: 'train',
    dataset_test_split: 'test',
    eval_strategy: 'no',
    output_dir: mkdtempSync(join(tmpdir(), 'alignkit-datasets-')),
    skip_invalid_rows: false,
    dataset_mixture: null,
    datasets: [],
    test_split_size: null,
    seed: 42,
    ...overrides,
  };
}

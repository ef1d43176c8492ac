// What a config names as inputs — hub ids, dataset repos, mixtures — turned into local paths before any work, so
// every trainer reads plain folders and files: train() calls this once, at its start.
import type { TrainConfig } from '../config/load-config.js';
import { resolveDatasets } from '../data/sources/resolve-datasets.js';
import { resolveModelPaths } from '../hub/resolve-models.js';

/** `config` with its datasets (and models) resolved to local paths; `log` prints notes and progress. */
export async function resolveInputs<C extends TrainConfig>(config: C, log: (message: string) => void): Promise<C> {
  // Models: model_name_or_path (at model_revision) and reward_model_path as hub ids → snapshot folders (src/hub).
  const withModels = await resolveModelPaths(config, log);
  // Datasets: train_dataset / eval_dataset from a mixture, dataset_name, a hub id or a dataset repo folder.
  return resolveDatasets(withModels, log);
}

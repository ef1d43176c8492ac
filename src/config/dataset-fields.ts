// Where the rows come from, as TRL's scripts and the alignment-handbook name it: TRL 1.13's ScriptArguments and
// DatasetMixtureConfig (trl/scripts/utils.py; a TRL recipe writes the mixture's `datasets`, `streaming` and
// `test_split_size` at the top level) and the handbook's ScriptArguments.dataset_mixture. src/data/sources reads
// them (resolve-datasets.ts) into train_dataset / eval_dataset before any work.
import { RANKED_PAIRINGS } from '../data/ranked/ranked-pairs.js';
import { ULTRAFEEDBACK_SCORES } from '../data/ranked/ranked-rows.js';
import { anyValue, bool, noEffect, num, obj, oneOf, str, type Schema } from './schema.js';

const STREAMING =
  'alignkit always reads data files as a stream and writes the split (or mixture) it trains on once, in the order datasets gives it; there is no separate streaming mode to choose';

export const datasetFields = {
  /** A hub dataset id or a local dataset folder, read as datasets.load_dataset(dataset_name, dataset_config). */
  dataset_name: str(null),
  /** The dataset's config name (load_dataset's `name`); null: its default config. */
  dataset_config: str(null),
  /** The split of dataset_name (or of a hub-id train_dataset) to train on; `train` for a mixture. */
  dataset_train_split: str('train'),
  /** The split evaluated on when eval_strategy is not `no`; `test` for a mixture with test_split_size. */
  dataset_test_split: str('test'),
  dataset_streaming: noEffect(bool(false), STREAMING),
  ignore_bias_buffers: noEffect(
    bool(false),
    "alignkit's data parallelism averages gradients and never broadcasts module buffers, so there are no boolean buffers to leave out of DistributedDataParallel",
  ),
  /** TRL's mixture: a list of {path, name, data_dir, data_files, split, columns, fraction} (src/data/sources/mixture-config.ts). */
  datasets: anyValue([]),
  streaming: noEffect(bool(false), STREAMING),
  /** The mixture's test split: a fraction of its rows (0 < x < 1) or a row count (datasets' train_test_split test_size). */
  test_split_size: num(null, { min: 0 }),
  /** The alignment-handbook's mixture: {datasets: [{id, config, split, columns, weight}], seed, test_split_size}. */
  dataset_mixture: obj(null),
} satisfies Schema;

/**
 * Ranked preference data, more than two graded answers per prompt (src/data/ranked): read by trainer dpo only.
 * docs/ranked-preferences.md describes the row layouts and strategies.
 */
export const rankedDatasetFields = {
  /**
   * null: rows are chosen/rejected pairs. best_vs_worst | best_vs_random | all_pairs: each ranked row becomes DPO
   * pairs (best_vs_random draws with `seed`); listwise: the whole ranking in one Plackett–Luce step (DPO's loss keys
   * stay at their defaults).
   */
  ranked_pairing: oneOf(RANKED_PAIRINGS, null),
  /**
   * all_pairs only: `score_gap` weights each pair's loss by its score difference (a batch's loss is Σ w·loss / Σ w;
   * DPO's sigmoid loss, trained through the listwise step with two answers a prompt, so DPO's loss keys stay at their
   * defaults); `none`: every pair alike.
   */
  ranked_pair_weighting: oneOf(['none', 'score_gap'], 'none'),
  /** UltraFeedback's raw rows: which score of each completion ranks it. */
  ranked_score_field: oneOf(ULTRAFEEDBACK_SCORES, 'overall_score'),
} satisfies Schema;

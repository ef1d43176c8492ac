// TrainingArguments' experiment-tracking and hub keys (transformers 5.18) that alignkit implements: where logs go
// (report_to, TensorBoard's folder) and whether output_dir is pushed to the hub. src/report/reporters.ts checks them
// before any work and runs them; src/hub/push.ts pushes. (run_name, project and trackio_* only name runs for
// integrations alignkit does not have: unimplemented-fields.ts.)
import { bool, listOf, oneOf, str, type Field, type Schema } from './schema.js';

/** INTEGRATION_TO_CALLBACK's names, and 'all' / 'none'. Only tensorboard is built into alignkit. */
export const REPORT_TO = [
  'all',
  'none',
  'azure_ml',
  'comet_ml',
  'mlflow',
  'neptune',
  'tensorboard',
  'trackio',
  'wandb',
  'codecarbon',
  'clearml',
  'dagshub',
  'flyte',
  'dvclive',
  'swanlab',
  'kubeflow',
] as const;

type ReportTo = (typeof REPORT_TO)[number];

/** report_to as a list (a config sets a name or a list; the default is the name 'none'). */
export const reportTo = (value: ReportTo | ReportTo[]): ReportTo[] => (typeof value === 'string' ? [value] : value);

/** transformers' HubStrategy: when push_to_hub uploads (src/hub/push.ts). */
export const HUB_STRATEGIES = ['end', 'every_save', 'checkpoint', 'all_checkpoints'] as const;

export const reportFields = {
  /**
   * A name or a list of names (REPORT_TO), checked at load; TRL's default is the string 'none', which keeps
   * output_dir/metrics.jsonl alone (always written). reportTo() gives the list.
   */
  report_to: { ...listOf(REPORT_TO, []), default: 'none' } as Field<ReportTo | ReportTo[]>,
  /**
   * TensorBoard's folder, the TrainingArguments key of transformers 4 (5.18 dropped it for TENSORBOARD_LOGGING_DIR,
   * default output_dir/runs/<date>_<host>); a recipe that still sets it gets that folder.
   */
  logging_dir: str(null),
  push_to_hub: bool(false),
  /** The repo output_dir is pushed to ('name' goes to the token's user); null: output_dir's name. */
  hub_model_id: str(null),
  hub_strategy: oneOf(HUB_STRATEGIES, 'every_save'),
  /** Else HF_TOKEN, else the `hf auth login` token file. Never written to training_args.json or TensorBoard. */
  hub_token: str(null),
  /** Only when the push creates the repo; null: the namespace's default visibility. */
  hub_private_repo: bool(null),
  hub_always_push: bool(false),
  /** The branch pushes commit to (it must exist); null: main. */
  hub_revision: str(null),
} satisfies Schema;

/** The config as training_args.json and TensorBoard's `args` text show it: hub_token hidden, as TrainingArguments.to_dict hides it. */
export function withHubTokenHidden<C extends { hub_token?: string | null }>(config: C): C {
  return config.hub_token ? { ...config, hub_token: '<HUB_TOKEN>' } : config;
}

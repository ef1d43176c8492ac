// report_to and push_to_hub: the Trainer's reporting callbacks (TensorBoard, the only integration built in) and its
// hub pushes, as reporters runTrainer calls at the Trainer's moments: every log entry (on_log), every checkpoint
// (_save_checkpoint), the end of training (on_train_end) and the final save (save_model), and closes on every way
// out. output_dir/metrics.jsonl is written whatever report_to says.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from '../config/load-config.js';
import { REPORT_TO, reportTo, withHubTokenHidden } from '../config/report-fields.js';
import { configError } from '../errors.js';
import { checkPushToHub, HubPusher } from '../hub/push.js';
import type { LoopConfig } from '../train/recipe.js';
import type { LogEntry } from '../train/train-types.js';
import { openTensorBoard, type TensorBoardOptions } from './tensorboard.js';

export interface SaveEvent {
  /** The checkpoint-N folder just written. */
  checkpoint: string;
  step: number;
  epoch: number;
}

export interface Reporter {
  /** on_log: a log entry, as metrics.jsonl gets it (training, evaluation, the summary). */
  log?(entry: LogEntry): Promise<void>;
  /** A checkpoint was saved. */
  saved?(event: SaveEvent): Promise<void>;
  /** on_train_end, before the final model is saved. */
  trainEnd?(): Promise<void>;
  /** The final model is in output_dir. */
  modelSaved?(): Promise<void>;
  /** Every way out, errors included: flush, let uploads in flight end, release files. */
  close(): Promise<void>;
}

const BUILT_IN = new Set<string>(['tensorboard']);

/** report_to as transformers resolves it: 'none' → nothing, 'all' → every integration (here: the built-in one). */
export function reportTargets(names: readonly string[]): string[] {
  if (names.length === 1 && names[0] === 'none') return [];
  if (names.length === 1 && names[0] === 'all') return ['tensorboard'];
  for (const name of ['none', 'all']) {
    // get_reporting_integration_callbacks: in a list with other names they are unknown integrations.
    if (names.includes(name))
      throw configError(
        `report_to: '${name}' stands alone; a list holding it with other names is refused by transformers too (${name} is not supported)`,
      );
  }
  return [...new Set(names)];
}

/** How to send logs to an integration alignkit does not build in. */
const ON_LOG_HINT =
  'metrics go to output_dir/metrics.jsonl; to send them on, pass onLog to train() ' +
  '(e.g. `train(config, { onLog: (entry, { step }) => run.log(entry, { step }) })` with your wandb/mlflow/trackio client)';

/** Before any work: report_to's names, and whether push_to_hub can push. Notes for what has no effect here. */
export function checkReporting(config: TrainConfig, note: (message: string) => void): void {
  const names = reportTo(config.report_to);
  const targets = reportTargets(names);
  const others = names.includes('all')
    ? REPORT_TO.filter((name) => name !== 'all' && name !== 'none' && !BUILT_IN.has(name))
    : targets.filter((name) => !BUILT_IN.has(name));
  if (others.length) {
    note(
      `note: report_to ${names.includes('all') ? "'all' reports to tensorboard, the one integration built into alignkit; " : ''}` +
        `${names.includes('all') ? 'the others' : others.join(', ')} ${others.length > 1 ? 'are' : 'is'} not built in: ${ON_LOG_HINT}`,
    );
  }
  if (config.logging_dir && !targets.includes('tensorboard'))
    note(`note: logging_dir is TensorBoard's folder; it has no effect without report_to: tensorboard`);
  if (config.push_to_hub && config.trainer === 'online_dpo') {
    throw configError(
      'push_to_hub is not supported by trainer: online_dpo (each round is its own DPO run); push output_dir after training',
    );
  }
  checkPushToHub(config);
  const hubKeys = (
    ['hub_model_id', 'hub_strategy', 'hub_token', 'hub_private_repo', 'hub_always_push', 'hub_revision'] as const
  ).filter(
    (key) => config[key] !== null && config[key] !== false && !(key === 'hub_strategy' && config[key] === 'every_save'),
  );
  if (!config.push_to_hub && hubKeys.length)
    note(`note: ${hubKeys.join(', ')} ${hubKeys.length > 1 ? 'have' : 'has'} no effect: push_to_hub is false`);
}

/** The reporters of one run, called in order. */
export class Reporters {
  static readonly none = new Reporters([]);
  readonly #list: Reporter[];
  #closed = false;

  constructor(list: Reporter[]) {
    this.#list = list;
  }

  async log(entry: LogEntry): Promise<void> {
    for (const r of this.#list) await r.log?.(entry);
  }

  async saved(event: SaveEvent): Promise<void> {
    for (const r of this.#list) await r.saved?.(event);
  }

  async trainEnd(): Promise<void> {
    for (const r of this.#list) await r.trainEnd?.();
  }

  async modelSaved(): Promise<void> {
    for (const r of this.#list) await r.modelSaved?.();
  }

  /** Closes each reporter once, all of them even when one fails (the first failure is thrown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const results = await Promise.allSettled(this.#list.map((r) => r.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** The model's config.json text, when model_name_or_path is a local folder (TensorBoard's `model_config`). */
function modelConfigText(config: LoopConfig): string | undefined {
  const path = config.model_name_or_path && join(config.model_name_or_path, 'config.json');
  return path && existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The run's reporters, on the process that writes logs (data-parallel rank 0): the hub repo is created here, before
 * the first step, and TensorBoard's file opened with the `args` and `model_config` texts.
 */
export async function openReporters(
  config: LoopConfig,
  options: { isMain: boolean; log?: (message: string) => void; tensorboard?: TensorBoardOptions },
): Promise<Reporters> {
  if (!options.isMain) return Reporters.none;
  const log = options.log ?? ((message: string) => console.error(message));
  const list: Reporter[] = [];
  try {
    if (config.push_to_hub) list.push(await HubPusher.open(config, log));
    if (reportTargets(reportTo(config.report_to)).includes('tensorboard')) {
      list.push(
        await openTensorBoard(config, {
          argsText: JSON.stringify(withHubTokenHidden(config), null, 2),
          modelConfigText: modelConfigText(config),
          ...options.tensorboard,
        }),
      );
    }
  } catch (err) {
    await new Reporters(list).close();
    throw err;
  }
  return new Reporters(list);
}

// train()'s public surface: its options (signal, callbacks, data parallelism), the progress and log entries it
// reports, and its result.
import type { DataParallel } from '../distributed/data-parallel.js';

/** One log_history entry, as the Trainer logs it: loss, grad_norm, learning_rate, TRL's metrics, epoch, step. */
export type LogEntry = Record<string, number>;

export interface TrainProgress {
  step: number;
  maxSteps: number;
  epoch: number;
}

export interface TrainOptions {
  /**
   * Aborting stops between optimizer steps: the running step (with its log, evaluation, checkpoint) finishes, a
   * checkpoint is saved and train() returns with `stopped: true`.
   */
  signal?: AbortSignal;
  /** Called when the loop starts (step 0, or the checkpoint's step) and after every optimizer step. */
  onStep?: (progress: TrainProgress) => void;
  /**
   * Called with every log entry: training, evaluation and the end-of-training summary (train_runtime, train_loss,
   * ...). They are also written to output_dir/metrics.jsonl (and the resolved config to training_args.json).
   */
  onLog?: (entry: LogEntry, progress: TrainProgress) => void;
  /** Notes for the user (options not implemented, precompute progress). Default: stderr. */
  log?: (message: string) => void;
  /**
   * This process's part in data-parallel training; train() joins the job torchrun's variables describe. Default:
   * one process.
   */
  dataParallel?: DataParallel;
}

export interface TrainResult {
  globalStep: number;
  logHistory: LogEntry[];
  /** True when the signal stopped training early (a checkpoint holds the state). */
  stopped: boolean;
  /** The latest checkpoint: the last one written, else the one resumed from. */
  checkpoint?: string;
}

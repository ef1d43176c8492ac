// Training in this process, as `alignkit train` and `alignkit dpo|sft|kto` run it: progress (train-progress.ts),
// the config's notes and a summary line. Ctrl-C finishes the running optimizer step, saves a checkpoint and exits
// with 130 (128 + SIGINT), saying how to resume; a second Ctrl-C exits at once. SIGTERM (what schedulers and
// preemption send) stops the same way and exits with 143, whatever enable_jit_checkpoint says (alignkit always
// checkpoints on it); a second SIGTERM ends the process at once. Of a data-parallel job's workers, rank 0 alone
// reports progress, notes and the summary.
import type { TrainConfig } from '../config/load-config.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { train } from '../train/train-from-config.js';
import { onCtrlC } from './ctrl-c.js';
import { duration, trainReporter } from './train-progress.js';

/** `resumeCommand(checkpoint)`: the command line that continues the run from `checkpoint`. */
export async function runTraining(config: TrainConfig, resumeCommand: (checkpoint: string) => string): Promise<void> {
  const reporter = trainReporter({
    interactive: Boolean(process.stdout.isTTY && process.stderr.isTTY) && config.disable_tqdm !== true,
  });
  const main = (distributedEnv()?.rank ?? 0) === 0;
  const controller = new AbortController();
  let stoppedExitCode = 130;
  const stopListening = onCtrlC(
    () => {
      reporter.note('stopping after this optimizer step and saving a checkpoint (Ctrl-C again to quit now)');
      controller.abort();
    },
    () => {
      reporter.stop();
      console.error('alignkit: interrupted');
      process.exit(130);
    },
  );
  const onTerm = () => {
    reporter.note('SIGTERM: stopping after this optimizer step and saving a checkpoint (SIGTERM again to quit now)');
    stoppedExitCode = 143;
    controller.abort();
  };
  process.once('SIGTERM', onTerm);
  try {
    const result = await train(config, {
      signal: controller.signal,
      onStep: reporter.onStep,
      onLog: reporter.onLog,
      log: main ? reporter.note : () => {},
    });
    reporter.stop();
    if (!main) return;
    if (result.stopped) {
      console.log(
        result.checkpoint
          ? `stopped at step ${result.globalStep}: checkpoint ${result.checkpoint}\n` +
              `resume with: ${resumeCommand(result.checkpoint)}  (or resume_from_checkpoint: true in the config)`
          : 'stopped before the first optimizer step; nothing saved',
      );
      process.exitCode = stoppedExitCode;
      return;
    }
    if (config.trainer === 'online_dpo') {
      console.log(
        `done: ${config.iterations} round(s), ${result.globalStep} steps; model saved to ${config.output_dir}`,
      );
      return;
    }
    const s = result.logHistory.at(-1)!;
    console.log(
      `done: ${s.step} steps in ${duration(s.train_runtime!)}, train_loss ${s.train_loss!.toPrecision(4)}, ` +
        `${s.train_steps_per_second ?? '-'} steps/s, ${s.train_samples_per_second ?? '-'} samples/s; model saved to ${config.output_dir}`,
    );
  } finally {
    reporter.stop();
    stopListening();
    process.off('SIGTERM', onTerm);
  }
}

// `alignkit train config.yaml`: runs the trainer the config names (dpo, sft, kto or online_dpo), showing progress
// (train-progress.ts) and a summary line. Ctrl-C finishes the running optimizer step, saves a checkpoint and exits
// with 130 (128 + SIGINT), saying how to resume; a second Ctrl-C exits at once. With torchrun's flags
// (--nproc_per_node...) it launches and supervises that many workers instead (train-launch.ts); of those workers
// (or any launcher's), rank 0 alone reports progress, notes and the summary.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { train } from '../train/train.js';
import { onCtrlC } from './ctrl-c.js';
import { addLaunchOptions, launchOptionsOf, runLauncher } from './train-launch.js';
import { duration, trainReporter } from './train-progress.js';

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description('train a model as the config says (trainer: dpo, sft, kto or online_dpo); Ctrl-C saves a checkpoint and stops')
    .argument('<config>', 'training config (YAML or JSON)')
    .option('--resume [checkpoint]', 'resume_from_checkpoint: the newest checkpoint-N in output_dir, or the folder given');
  addLaunchOptions(command)
    .action(async (path: string, options: { resume?: string | true }) => {
      const launcher = launchOptionsOf(command, path);
      if (launcher) return runLauncher(launcher, path);
      const config = await loadConfig(path);
      if (options.resume !== undefined) config.resume_from_checkpoint = options.resume;
      const reporter = trainReporter({ interactive: Boolean(process.stdout.isTTY && process.stderr.isTTY) && config.disable_tqdm !== true });
      const main = (distributedEnv()?.rank ?? 0) === 0;
      const controller = new AbortController();
      const stopListening = onCtrlC(() => {
        reporter.note('stopping after this optimizer step and saving a checkpoint (Ctrl-C again to quit now)');
        controller.abort();
      }, () => {
        reporter.stop();
        console.error('alignkit: interrupted');
        process.exit(130);
      });
      try {
        const result = await train(config, { signal: controller.signal, onStep: reporter.onStep, onLog: reporter.onLog, log: main ? reporter.note : () => {} });
        reporter.stop();
        if (!main) return;
        if (result.stopped) {
          console.log(result.checkpoint
            ? `stopped at step ${result.globalStep}: checkpoint ${result.checkpoint}\n` +
              `resume with: alignkit train ${path} --resume ${result.checkpoint}  (or resume_from_checkpoint: true in the config)`
            : 'stopped before the first optimizer step; nothing saved');
          process.exitCode = 130;
          return;
        }
        if (config.trainer === 'online_dpo') {
          console.log(`done: ${config.iterations} round(s), ${result.globalStep} steps; model saved to ${config.output_dir}`);
          return;
        }
        const s = result.logHistory.at(-1)!;
        console.log(`done: ${s.step} steps in ${duration(s.train_runtime!)}, train_loss ${s.train_loss!.toPrecision(4)}, ` +
          `${s.train_steps_per_second ?? '-'} steps/s, ${s.train_samples_per_second ?? '-'} samples/s; model saved to ${config.output_dir}`);
      } finally {
        reporter.stop();
        stopListening();
      }
    });
}

// `alignkit train config.yaml`: runs the DPO trainer, one progress line per log (step, loss, margin, ETA).
// Ctrl-C saves a checkpoint after the running step and exits cleanly; a second Ctrl-C exits at once.
import type { Command } from 'commander';
import { train, type LogEntry } from '../train/dpo.js';

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function line(entry: LogEntry, step: number, maxSteps: number, eta: number): string {
  const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toPrecision(4));
  if ('eval_loss' in entry) return `eval  step ${step}: loss ${fmt(entry.eval_loss)}  margin ${fmt(entry['eval_rewards/margins'])}`;
  return `step ${step}/${maxSteps}  loss ${fmt(entry.loss)}  margin ${fmt(entry['rewards/margins'])}  ` +
    `acc ${fmt(entry['rewards/accuracies'])}  lr ${fmt(entry.learning_rate)}  ETA ${duration(eta)}`;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model as the config says (trainer: dpo); Ctrl-C saves a checkpoint and stops')
    .argument('<config>', 'training config (YAML or JSON)')
    .action(async (path: string) => {
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        console.error('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      const start = Date.now();
      let firstStep: number | undefined;
      try {
        const result = await train(path, {
          signal: controller.signal,
          onLog: (entry, { step, maxSteps }) => {
            firstStep ??= step - 1;
            const perStep = (Date.now() - start) / 1000 / Math.max(1, step - firstStep);
            console.log(line(entry, step, maxSteps, perStep * (maxSteps - step)));
          },
        });
        console.log(result.stopped
          ? `stopped at step ${result.globalStep}; resume with resume_from_checkpoint: ${result.checkpoint}`
          : `done: ${result.globalStep} steps in ${duration((Date.now() - start) / 1000)}`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

// `alignkit train config.yaml`: runs the trainer the config names (dpo, sft, kto or online_dpo) in this process
// (run-training.ts: progress, Ctrl-C, summary). With torchrun's flags (--nproc_per_node...) it launches and
// supervises that many workers instead (train-launch.ts).
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { runTraining } from './run-training.js';
import { addLaunchOptions, launchOptionsOf, runLauncher } from './train-launch.js';

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      'train a model as the config says (trainer: dpo, sft, kto or online_dpo); Ctrl-C saves a checkpoint and stops',
    )
    .argument('<config>', 'training config (YAML or JSON)')
    .option(
      '--resume [checkpoint]',
      'resume_from_checkpoint: the newest checkpoint-N in output_dir, or the folder given',
    );
  addLaunchOptions(command).action(async (path: string, options: { resume?: string | true }) => {
    const launcher = launchOptionsOf(command, ['train', path]);
    if (launcher) return runLauncher(launcher, () => loadConfig(path));
    const config = await loadConfig(path);
    if (options.resume !== undefined) config.resume_from_checkpoint = options.resume;
    await runTraining(config, (checkpoint) => `alignkit train ${path} --resume ${checkpoint}`);
  });
}

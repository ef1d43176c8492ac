// `alignkit dpo|sft|kto|orpo|cpo|bco|reward recipe.yaml [--key value ...]`: TRL's command line (`trl dpo --config recipe.yaml`), for a
// TRL or alignment-handbook recipe as it is: no `trainer:` key, flags over the recipe's keys (load-recipe.ts). It
// trains as `alignkit train` does (run-training.ts), and with torchrun's flags launches workers that each run the
// same command (train-launch.ts).
import type { Command } from 'commander';
import { loadRecipe, TRL_CONFIG_CLASS as CONFIG_CLASS, TRL_TRAINERS, type TrlTrainer } from '../config/load-recipe.js';
import { runTraining } from './run-training.js';
import { addLaunchOptions, launchOptionsOf, runLauncher } from './train-launch.js';

/** A command line as a shell reads it back: arguments with spaces or quotes quoted. */
const shellLine = (args: readonly string[]) =>
  args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');

export function registerTrlCommands(program: Command): void {
  for (const trainer of TRL_TRAINERS) registerTrlCommand(program, trainer);
}

function registerTrlCommand(program: Command, trainer: TrlTrainer): void {
  const command = program
    .command(trainer)
    .description(
      `train with TRL's ${CONFIG_CLASS[trainer]} keys, as \`trl ${trainer} --config recipe.yaml\`: a TRL or ` +
        'alignment-handbook recipe as it is, --key value flags overriding its keys',
    )
    .argument('[args...]', 'recipe.yaml (or --config recipe.yaml), then --key value, --key=value, --flag, --no_flag')
    .allowUnknownOption();
  addLaunchOptions(command).action(async (args: string[]) => {
    const launcher = launchOptionsOf(command, [trainer, ...args]);
    if (launcher) {
      return runLauncher(launcher, async () => {
        const { config, env } = await loadRecipe(trainer, args);
        Object.assign(process.env, env); // before the workers start, so that they inherit it
        return config;
      });
    }
    const { config, env } = await loadRecipe(trainer, args);
    Object.assign(process.env, env);
    await runTraining(
      config,
      (checkpoint) => `alignkit ${trainer} ${shellLine([...args, '--resume_from_checkpoint', checkpoint])}`,
    );
  });
}
